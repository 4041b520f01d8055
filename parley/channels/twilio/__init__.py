"""SMS and WhatsApp through Twilio: form webhooks validated with the official library's `RequestValidator`,
replies and status callbacks through its REST client. Everything else is the common messaging layer."""
