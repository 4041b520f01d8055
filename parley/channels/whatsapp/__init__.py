"""WhatsApp Business through Meta's Cloud API: the webhook (verification handshake, signed notifications) and the
sender (Graph API messages and media). Everything else is the common messaging layer (`channels.messaging`)."""
