"""Channel adapters: each turns a medium's traffic into conversation turns and renders the replies."""
