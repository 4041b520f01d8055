"""The fixed phrases Parley says itself (not the model): in English, French and Arabic."""

from __future__ import annotations

PHRASES: dict[str, dict[str, str]] = {
    "greeting": {
        "en": "Hello! How can I help you today?",
        "fr": "Bonjour ! Comment puis-je vous aider ?",
        "ar": "مرحبًا! كيف يمكنني مساعدتك اليوم؟",
    },
    "thanks": {
        "en": "You're welcome! Is there anything else I can help with?",
        "fr": "Je vous en prie ! Puis-je vous aider pour autre chose ?",
        "ar": "على الرحب والسعة! هل يمكنني مساعدتك في شيء آخر؟",
    },
    "goodbye": {
        "en": "Goodbye, and thank you for getting in touch!",
        "fr": "Au revoir, et merci de nous avoir contactés !",
        "ar": "إلى اللقاء، وشكرًا لتواصلك معنا!",
    },
    "fallback": {
        "en": "I'm sorry, I couldn't find that in the information I have. A member of our team will follow up.",
        "fr": "Désolé, je n'ai pas trouvé cette information. Un membre de notre équipe va vous répondre.",
        "ar": "عذرًا، لم أجد هذه المعلومة. سيتواصل معك أحد أعضاء فريقنا.",
    },
    "handoff": {
        "en": "I'm passing this conversation to a member of our team; they will reply here.",
        "fr": "Je transmets cette conversation à un membre de notre équipe, qui vous répondra ici.",
        "ar": "سأحوّل هذه المحادثة إلى أحد أعضاء فريقنا، وسيرد عليك هنا.",
    },
}


def phrase(key: str, language: str) -> str:
    options = PHRASES[key]
    return options.get(language, options["en"])
