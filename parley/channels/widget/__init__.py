"""The web chat widget: a script businesses embed on their sites, and the public endpoints it talks to."""
