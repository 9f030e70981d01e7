"""Every sentence intake sends, in the four languages. Plain format strings keyed by language."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

from services.intake.domain.model import Language

T = Mapping[Language, str]

MINISTRY: T = {
    Language.FR: "SPF Affaires étrangères (Belgique)",
    Language.NL: "FOD Buitenlandse Zaken (België)",
    Language.DE: "FÖD Auswärtige Angelegenheiten (Belgien)",
    Language.EN: "FPS Foreign Affairs (Belgium)",
}

ACK_SUBJECT: T = {
    Language.FR: "Votre dossier {reference}",
    Language.NL: "Uw dossier {reference}",
    Language.DE: "Ihr Vorgang {reference}",
    Language.EN: "Your case {reference}",
}

ACK_BODY: T = {
    Language.FR: "Nous avons bien reçu votre demande. Votre numéro de dossier est {reference}. "
                 "Vous recevrez une réponse au plus tard le {due}. Votre agent: {officer}.",
    Language.NL: "Wij hebben uw aanvraag goed ontvangen. Uw dossiernummer is {reference}. "
                 "U krijgt uiterlijk op {due} een antwoord. Uw dossierbeheerder: {officer}.",
    Language.DE: "Wir haben Ihre Anfrage erhalten. Ihr Aktenzeichen ist {reference}. "
                 "Sie erhalten spätestens am {due} eine Antwort. Ihr Sachbearbeiter: {officer}.",
    Language.EN: "We have received your request. Your case reference is {reference}. "
                 "You will receive a reply by {due} at the latest. Your case officer: {officer}.",
}

PROVISIONAL_BODY: T = {
    Language.FR: "Dossier {reference}: votre demande est complexe. Nous vous répondrons au plus tard le {due}. "
                 "Votre agent: {officer}.",
    Language.NL: "Dossier {reference}: uw aanvraag is complex. Wij antwoorden u uiterlijk op {due}. "
                 "Uw dossierbeheerder: {officer}.",
    Language.DE: "Vorgang {reference}: Ihre Anfrage ist komplex. Wir antworten Ihnen spätestens am {due}. "
                 "Ihr Sachbearbeiter: {officer}.",
    Language.EN: "Case {reference}: your request is complex. We will reply by {due} at the latest. "
                 "Your case officer: {officer}.",
}

FORWARD_BODY: T = {
    Language.FR: "Dossier {reference}: votre demande relève de {service}, à qui nous l'avons transmise. "
                 "Votre agent: {officer}.",
    Language.NL: "Dossier {reference}: uw aanvraag behoort tot de bevoegdheid van {service}; wij hebben ze "
                 "doorgestuurd. Uw dossierbeheerder: {officer}.",
    Language.DE: "Vorgang {reference}: Ihre Anfrage fällt in die Zuständigkeit von {service}; wir haben sie "
                 "weitergeleitet. Ihr Sachbearbeiter: {officer}.",
    Language.EN: "Case {reference}: your request is a matter for {service}, to whom we have forwarded it. "
                 "Your case officer: {officer}.",
}

SMS_NEW_CASE: T = {
    Language.FR: "Assistance consulaire: votre dossier est {reference}. Un agent vous contactera.",
    Language.NL: "Consulaire bijstand: uw dossier is {reference}. Een medewerker neemt contact met u op.",
    Language.DE: "Konsularische Hilfe: Ihr Aktenzeichen ist {reference}. Ein Mitarbeiter meldet sich bei Ihnen.",
    Language.EN: "Consular assistance: your case reference is {reference}. An officer will contact you.",
}

SMS_APPENDED: T = {
    Language.FR: "Message ajouté à votre dossier {reference}.",
    Language.NL: "Bericht toegevoegd aan uw dossier {reference}.",
    Language.DE: "Nachricht zu Ihrem Vorgang {reference} hinzugefügt.",
    Language.EN: "Message added to your case {reference}.",
}

SURVEY_SMS: T = {
    Language.FR: "Dossier {reference} clôturé. Êtes-vous satisfait? Répondez de 1 (pas du tout) à 5 (très).",
    Language.NL: "Dossier {reference} afgesloten. Bent u tevreden? Antwoord van 1 (helemaal niet) tot 5 (zeer).",
    Language.DE: "Vorgang {reference} abgeschlossen. Sind Sie zufrieden? Antworten Sie von 1 (gar nicht) "
                 "bis 5 (sehr).",
    Language.EN: "Case {reference} closed. Are you satisfied? Reply from 1 (not at all) to 5 (very).",
}

SURVEY_EMAIL: T = {
    Language.FR: "Votre dossier {reference} est clôturé. Donnez-nous votre avis: {link}",
    Language.NL: "Uw dossier {reference} is afgesloten. Geef ons uw mening: {link}",
    Language.DE: "Ihr Vorgang {reference} ist abgeschlossen. Sagen Sie uns Ihre Meinung: {link}",
    Language.EN: "Your case {reference} is closed. Tell us what you think: {link}",
}

SURVEY_THANKS: T = {
    Language.FR: "Merci pour votre avis.",
    Language.NL: "Bedankt voor uw mening.",
    Language.DE: "Danke für Ihre Meinung.",
    Language.EN: "Thank you for your feedback.",
}

# Voice prompts. The language menu is said in each language by its own voice.
VOICE_LOCALE: T = {Language.FR: "fr-FR", Language.NL: "nl-NL", Language.DE: "de-DE", Language.EN: "en-GB"}

VOICE_LANGUAGE_DIGITS: Mapping[str, Language] = {"1": Language.FR, "2": Language.NL, "3": Language.DE,
                                                 "4": Language.EN}

VOICE_LANGUAGE_MENU: T = {
    Language.FR: "Pour le français, tapez 1.",
    Language.NL: "Voor Nederlands, druk 2.",
    Language.DE: "Für Deutsch drücken Sie 3.",
    Language.EN: "For English, press 4.",
}

VOICE_CRISIS: T = {
    Language.FR: "Une crise est en cours: {title}. Pour cette crise, appelez le numéro {number}.",
    Language.NL: "Er is een crisis aan de gang: {title}. Bel hiervoor het nummer {number}.",
    Language.DE: "Es besteht eine Krise: {title}. Rufen Sie dazu die Nummer {number} an.",
    Language.EN: "A crisis is under way: {title}. For this crisis, call {number}.",
}

VOICE_MAIN_MENU: T = {
    Language.FR: "Pour une urgence, tapez 1. Pour laisser un message, tapez 2.",
    Language.NL: "Voor een noodgeval, druk 1. Om een bericht achter te laten, druk 2.",
    Language.DE: "Für einen Notfall drücken Sie 1. Um eine Nachricht zu hinterlassen, drücken Sie 2.",
    Language.EN: "For an emergency, press 1. To leave a message, press 2.",
}

VOICE_CONNECTING: T = {
    Language.FR: "Nous vous mettons en relation.",
    Language.NL: "U wordt doorverbonden.",
    Language.DE: "Wir verbinden Sie.",
    Language.EN: "Connecting you now.",
}

VOICE_RECORD: T = {
    Language.FR: "Personne n'est disponible. Laissez votre message après le bip, puis raccrochez.",
    Language.NL: "Niemand is beschikbaar. Spreek uw bericht in na de pieptoon en leg dan in.",
    Language.DE: "Niemand ist erreichbar. Hinterlassen Sie Ihre Nachricht nach dem Signalton und legen Sie auf.",
    Language.EN: "No one is available. Leave your message after the tone, then hang up.",
}

VOICE_RECORDED: T = {
    Language.FR: "Merci. Votre dossier est {reference}. Nous vous rappellerons.",
    Language.NL: "Dank u. Uw dossier is {reference}. Wij bellen u terug.",
    Language.DE: "Danke. Ihr Aktenzeichen ist {reference}. Wir rufen Sie zurück.",
    Language.EN: "Thank you. Your case reference is {reference}. We will call you back.",
}

VOICE_INVALID: T = {
    Language.FR: "Choix non valide.",
    Language.NL: "Ongeldige keuze.",
    Language.DE: "Ungültige Auswahl.",
    Language.EN: "Invalid choice.",
}

_MONTHS: Mapping[Language, tuple[str, ...]] = {
    Language.FR: ("janvier", "février", "mars", "avril", "mai", "juin", "juillet", "août", "septembre",
                  "octobre", "novembre", "décembre"),
    Language.NL: ("januari", "februari", "maart", "april", "mei", "juni", "juli", "augustus", "september",
                  "oktober", "november", "december"),
    Language.DE: ("Januar", "Februar", "März", "April", "Mai", "Juni", "Juli", "August", "September",
                  "Oktober", "November", "Dezember"),
    Language.EN: ("January", "February", "March", "April", "May", "June", "July", "August", "September",
                  "October", "November", "December"),
}


def long_date(day: date, language: Language) -> str:
    month = _MONTHS[language][day.month - 1]
    if language is Language.DE:
        return f"{day.day}. {month} {day.year}"
    return f"{day.day} {month} {day.year}"


def render(template: T, language: Language, **values: object) -> str:
    return template[language].format(**values)
