"""What the crisis center says, in the four languages it speaks (fr, nl, de, en)."""

from __future__ import annotations

from typing import Literal

Language = Literal["fr", "nl", "de", "en"]
LANGUAGES: tuple[Language, ...] = ("fr", "nl", "de", "en")
CAP_LANGUAGE: dict[Language, str] = {"fr": "fr-BE", "nl": "nl-BE", "de": "de-BE", "en": "en"}

SENDER_NAME: dict[Language, str] = {
    "fr": "SPF Affaires étrangères - Centre de crise",
    "nl": "FOD Buitenlandse Zaken - Crisiscentrum",
    "de": "FÖD Auswärtige Angelegenheiten - Krisenzentrum",
    "en": "FPS Foreign Affairs Belgium - Crisis Centre",
}

KIND_NAME: dict[str, dict[Language, str]] = {
    "earthquake": {"fr": "Tremblement de terre", "nl": "Aardbeving", "de": "Erdbeben", "en": "Earthquake"},
    "flood": {"fr": "Inondation", "nl": "Overstroming", "de": "Überschwemmung", "en": "Flood"},
    "storm": {"fr": "Tempête", "nl": "Storm", "de": "Sturm", "en": "Storm"},
    "fire": {"fr": "Incendie", "nl": "Brand", "de": "Brand", "en": "Fire"},
    "unrest": {"fr": "Troubles", "nl": "Onrust", "de": "Unruhen", "en": "Unrest"},
    "attack": {"fr": "Attentat", "nl": "Aanslag", "de": "Anschlag", "en": "Attack"},
    "epidemic": {"fr": "Épidémie", "nl": "Epidemie", "de": "Epidemie", "en": "Epidemic"},
    "transport": {"fr": "Accident de transport", "nl": "Transportongeval", "de": "Verkehrsunglück",
                  "en": "Transport accident"},
    "other": {"fr": "Situation de crise", "nl": "Crisissituatie", "de": "Krisenlage", "en": "Crisis situation"},
}

_DESCRIPTION: dict[Language, str] = {
    "fr": "Le Centre de crise suit la situation. {count} Belges sont concernés à ce stade.",
    "nl": "Het Crisiscentrum volgt de situatie op. Op dit moment zijn {count} Belgen getroffen.",
    "de": "Das Krisenzentrum verfolgt die Lage. Derzeit sind {count} Belgier betroffen.",
    "en": "The Crisis Centre is following the situation. {count} Belgians are affected at this stage.",
}
_INSTRUCTION: dict[Language, str] = {
    "fr": ("Mettez-vous en sécurité et suivez les consignes des autorités locales. "
           "Ligne d'urgence du SPF Affaires étrangères : {hotline}."),
    "nl": ("Breng uzelf in veiligheid en volg de instructies van de lokale overheid. "
           "Noodlijn van de FOD Buitenlandse Zaken: {hotline}."),
    "de": ("Bringen Sie sich in Sicherheit und befolgen Sie die Anweisungen der örtlichen Behörden. "
           "Notrufnummer des FÖD Auswärtige Angelegenheiten: {hotline}."),
    "en": ("Get to safety and follow the instructions of the local authorities. "
           "Hotline of FPS Foreign Affairs: {hotline}."),
}
_CLOSED: dict[Language, str] = {
    "fr": "La crise est terminée. La ligne d'urgence n'est plus active.",
    "nl": "De crisis is voorbij. De noodlijn is niet langer actief.",
    "de": "Die Krise ist beendet. Die Notrufnummer ist nicht mehr aktiv.",
    "en": "The crisis is over. The hotline is no longer active.",
}
_SMS: dict[Language, str] = {
    "fr": "{sender} : {title}. Vous êtes enregistré(e) dans la zone touchée. {instruction}",
    "nl": "{sender}: {title}. U bent geregistreerd in het getroffen gebied. {instruction}",
    "de": "{sender}: {title}. Sie sind im betroffenen Gebiet registriert. {instruction}",
    "en": "{sender}: {title}. You are registered in the affected area. {instruction}",
}
_EMAIL_SUBJECT: dict[Language, str] = {
    "fr": "Centre de crise : {title}",
    "nl": "Crisiscentrum: {title}",
    "de": "Krisenzentrum: {title}",
    "en": "Crisis Centre: {title}",
}
_EMAIL_BODY: dict[Language, str] = {
    "fr": ("Bonjour,\n\nVous vous êtes enregistré(e) auprès du SPF Affaires étrangères pour un séjour dans la "
           "zone touchée par : {title}.\n\n{instruction}\nSi vous êtes en sécurité, faites-le savoir à vos proches."
           "\n\n{sender}"),
    "nl": ("Goedendag,\n\nU hebt zich bij de FOD Buitenlandse Zaken geregistreerd voor een verblijf in het gebied "
           "getroffen door: {title}.\n\n{instruction}\nAls u in veiligheid bent, laat het uw naasten weten."
           "\n\n{sender}"),
    "de": ("Guten Tag,\n\nSie haben sich beim FÖD Auswärtige Angelegenheiten für einen Aufenthalt im Gebiet "
           "registriert, das betroffen ist von: {title}.\n\n{instruction}\nWenn Sie in Sicherheit sind, teilen Sie "
           "dies Ihren Angehörigen mit.\n\n{sender}"),
    "en": ("Hello,\n\nYou registered with FPS Foreign Affairs for a stay in the area affected by: {title}.\n\n"
           "{instruction}\nIf you are safe, let your family and friends know.\n\n{sender}"),
}


def as_language(raw: str | None) -> Language:
    """Contract languages are fr, nl, de, en; anything else (or nothing) falls back to English."""
    code = (raw or "").split("-")[0].lower()
    for language in LANGUAGES:
        if code == language:
            return language
    return "en"


def kind_name(kind: str, language: Language) -> str:
    return KIND_NAME.get(kind, KIND_NAME["other"])[language]


def description(count: int, language: Language) -> str:
    return _DESCRIPTION[language].format(count=count)


def instruction(hotline: str, language: Language) -> str:
    return _INSTRUCTION[language].format(hotline=hotline)


def closed_notice(language: Language) -> str:
    return _CLOSED[language]


def sms_text(title: str, hotline: str, language: Language) -> str:
    return _SMS[language].format(sender=SENDER_NAME[language], title=title, instruction=instruction(hotline, language))


def email_text(title: str, hotline: str, language: Language) -> tuple[str, str]:
    """(subject, body)."""
    body = _EMAIL_BODY[language].format(
        sender=SENDER_NAME[language], title=title, instruction=instruction(hotline, language)
    )
    return _EMAIL_SUBJECT[language].format(title=title), body
