"""Intake's own sentences, in the four languages: plain format strings keyed by language.

What a person is sent about a case is a template of shared/notifications (the notifier renders it to send it; intake
renders the same command for the case's history and for letters). The sentences here are the ones intake says itself:
the synchronous TwiML replies to an inbound SMS, the voice line, the survey page, the description of a case a welfare
answer opens, and the starting points of an officer's reply (`REPLY_TEMPLATES`, which the officer completes)."""

from __future__ import annotations

from collections.abc import Mapping

from services.intake.domain.model import Language

T = Mapping[Language, str]

MINISTRY: T = {
    Language.FR: "SPF Affaires étrangères (Belgique)",
    Language.NL: "FOD Buitenlandse Zaken (België)",
    Language.DE: "FÖD Auswärtige Angelegenheiten (Belgien)",
    Language.EN: "FPS Foreign Affairs (Belgium)",
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

SMS_OPTED_OUT: T = {
    Language.FR: "Vous ne recevrez plus de messages non urgents des Affaires étrangères. Envoyez START pour les "
                 "recevoir à nouveau. En cas d'urgence, écrivez-nous ici.",
    Language.NL: "U ontvangt geen niet-dringende berichten meer van Buitenlandse Zaken. Stuur START om ze opnieuw "
                 "te ontvangen. In nood kunt u ons hier schrijven.",
    Language.DE: "Sie erhalten keine nicht dringenden Nachrichten des Außenministeriums mehr. Senden Sie START, um "
                 "sie wieder zu erhalten. Im Notfall schreiben Sie uns hier.",
    Language.EN: "You will no longer receive non-urgent messages from Foreign Affairs. Send START to receive them "
                 "again. In an emergency, write to us here.",
}

SMS_OPTED_IN: T = {
    Language.FR: "Vous recevrez à nouveau nos messages.",
    Language.NL: "U ontvangt onze berichten opnieuw.",
    Language.DE: "Sie erhalten unsere Nachrichten wieder.",
    Language.EN: "You will receive our messages again.",
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


def render(template: T, language: Language, **values: object) -> str:
    return template[language].format(**values)


# --- case actions ---------------------------------------------------------------------------------------------

#: Starting points of a reply, per kind of case, in the citizen's language (`GET /v1/reply-templates`); the officer
#: completes them. Placeholders in brackets are for the officer to fill in.
REPLY_TEMPLATES: Mapping[str, T] = {
    "lost_document": {
        Language.FR: "Pour remplacer votre document, présentez-vous à [poste] avec une photo d'identité et la "
                     "déclaration de perte ou de vol. Un document de voyage provisoire peut être délivré le jour même.",
        Language.NL: "Om uw document te vervangen, meldt u zich bij [post] met een pasfoto en de aangifte van "
                     "verlies of diefstal. Een voorlopig reisdocument kan dezelfde dag worden afgegeven.",
        Language.DE: "Um Ihr Dokument zu ersetzen, melden Sie sich bei [Vertretung] mit einem Passfoto und der "
                     "Verlust- oder Diebstahlsanzeige. Ein vorläufiges Reisedokument kann am selben Tag "
                     "ausgestellt werden.",
        Language.EN: "To replace your document, go to [post] with a passport photo and the police report of the "
                     "loss or theft. An emergency travel document can be issued the same day.",
    },
    "detention": {
        Language.FR: "Nous avons pris contact avec les autorités de [pays] au sujet de la détention. Un agent "
                     "consulaire rendra visite à la personne détenue dès que possible.",
        Language.NL: "Wij hebben contact opgenomen met de autoriteiten van [land] over de aanhouding. Een "
                     "consulair medewerker bezoekt de gedetineerde zo snel mogelijk.",
        Language.DE: "Wir haben die Behörden von [Land] wegen der Festnahme kontaktiert. Ein Konsularbeamter "
                     "besucht die inhaftierte Person so bald wie möglich.",
        Language.EN: "We have contacted the authorities of [country] about the detention. A consular officer will "
                     "visit the detained person as soon as possible.",
    },
    "missing_person": {
        Language.FR: "Nous recherchons la personne avec les autorités locales et notre poste à [ville]. Nous vous "
                     "tiendrons informé de chaque élément nouveau.",
        Language.NL: "Wij zoeken de persoon samen met de lokale autoriteiten en onze post in [stad]. Wij houden u "
                     "op de hoogte van elk nieuw gegeven.",
        Language.DE: "Wir suchen die Person gemeinsam mit den örtlichen Behörden und unserer Vertretung in "
                     "[Stadt]. Wir informieren Sie über jede Neuigkeit.",
        Language.EN: "We are looking for the person with the local authorities and our post in [city]. We will "
                     "keep you informed of every new element.",
    },
    "serious_difficulty": {
        Language.FR: "Notre poste à [ville] peut vous aider: [aide proposée]. Contactez-le au [téléphone].",
        Language.NL: "Onze post in [stad] kan u helpen: [geboden hulp]. Neem contact op via [telefoon].",
        Language.DE: "Unsere Vertretung in [Stadt] kann Ihnen helfen: [angebotene Hilfe]. Erreichbar unter "
                     "[Telefon].",
        Language.EN: "Our post in [city] can help you: [help offered]. Contact it on [phone].",
    },
    "information_request": {
        Language.FR: "En réponse à votre question: [réponse]. Plus d'informations sur diplomatie.belgium.be.",
        Language.NL: "In antwoord op uw vraag: [antwoord]. Meer informatie op diplomatie.belgium.be.",
        Language.DE: "Als Antwort auf Ihre Frage: [Antwort]. Weitere Informationen auf diplomatie.belgium.be.",
        Language.EN: "In answer to your question: [answer]. More information on diplomatie.belgium.be.",
    },
    "complaint": {
        Language.FR: "Nous avons examiné votre plainte. [constat]. Nous avons pris les mesures suivantes: [mesures].",
        Language.NL: "Wij hebben uw klacht onderzocht. [vaststelling]. Wij hebben de volgende maatregelen genomen: "
                     "[maatregelen].",
        Language.DE: "Wir haben Ihre Beschwerde geprüft. [Feststellung]. Wir haben folgende Maßnahmen ergriffen: "
                     "[Maßnahmen].",
        Language.EN: "We have looked into your complaint. [finding]. We have taken the following steps: [steps].",
    },
}


# --- the satisfaction survey's page (GET/POST /public/survey/{token}) ----------------------------------------------

SURVEY_PAGE_TITLE: T = {
    Language.FR: "Votre avis sur le dossier {reference}", Language.NL: "Uw mening over dossier {reference}",
    Language.DE: "Ihre Meinung zum Vorgang {reference}", Language.EN: "Your opinion on case {reference}",
}
SURVEY_PAGE_QUESTION: T = {
    Language.FR: "Êtes-vous satisfait de notre aide ? (1 : pas du tout, 5 : très)",
    Language.NL: "Bent u tevreden over onze hulp? (1: helemaal niet, 5: zeer)",
    Language.DE: "Sind Sie mit unserer Hilfe zufrieden? (1: gar nicht, 5: sehr)",
    Language.EN: "Are you satisfied with our help? (1: not at all, 5: very)",
}
SURVEY_PAGE_COMMENT: T = {
    Language.FR: "Un commentaire (facultatif)", Language.NL: "Een opmerking (optioneel)",
    Language.DE: "Ein Kommentar (optional)", Language.EN: "A comment (optional)",
}
SURVEY_PAGE_SEND: T = {
    Language.FR: "Envoyer", Language.NL: "Versturen", Language.DE: "Senden", Language.EN: "Send",
}
SURVEY_PAGE_CHOOSE: T = {
    Language.FR: "Choisissez une note de 1 à 5.", Language.NL: "Kies een score van 1 tot 5.",
    Language.DE: "Wählen Sie eine Note von 1 bis 5.", Language.EN: "Choose a score from 1 to 5.",
}
SURVEY_PAGE_UNKNOWN: T = {
    Language.FR: "Ce lien n'est pas valable.", Language.NL: "Deze link is niet geldig.",
    Language.DE: "Dieser Link ist ungültig.", Language.EN: "This link is not valid.",
}


# --- welfare answers (an SMS reply to "are you safe?") ----------------------------------------------------------

WELFARE_SAFE: T = {
    Language.FR: "Merci. Nous avons noté que vous êtes en sécurité. Ligne de crise: {hotline}",
    Language.NL: "Dank u. We hebben genoteerd dat u veilig bent. Crisislijn: {hotline}",
    Language.DE: "Danke. Wir haben vermerkt, dass Sie in Sicherheit sind. Krisentelefon: {hotline}",
    Language.EN: "Thank you. We have noted that you are safe. Crisis hotline: {hotline}",
}

WELFARE_HELP: T = {
    Language.FR: "Nous avons ouvert le dossier {reference}. Un agent va vous contacter. "
                 "En danger immédiat, appelez la ligne de crise: {hotline}",
    Language.NL: "We hebben dossier {reference} geopend. Een medewerker neemt contact met u op. "
                 "In acuut gevaar, bel de crisislijn: {hotline}",
    Language.DE: "Wir haben den Vorgang {reference} eröffnet. Ein Mitarbeiter wird Sie kontaktieren. "
                 "Bei akuter Gefahr rufen Sie das Krisentelefon an: {hotline}",
    Language.EN: "We have opened case {reference}. An officer will contact you. "
                 "If you are in immediate danger, call the crisis hotline: {hotline}",
}

WELFARE_UNCLEAR: T = {
    Language.FR: "Merci, un agent va lire votre message. Répondez 1 si vous êtes en sécurité, 2 si vous avez "
                 "besoin d'aide. Ligne de crise: {hotline}",
    Language.NL: "Dank u, een medewerker leest uw bericht. Antwoord 1 als u veilig bent, 2 als u hulp nodig "
                 "hebt. Crisislijn: {hotline}",
    Language.DE: "Danke, ein Mitarbeiter liest Ihre Nachricht. Antworten Sie 1, wenn Sie in Sicherheit sind, 2, "
                 "wenn Sie Hilfe brauchen. Krisentelefon: {hotline}",
    Language.EN: "Thank you, an officer will read your message. Reply 1 if you are safe, 2 if you need help. "
                 "Crisis hotline: {hotline}",
}

WELFARE_CASE_DESCRIPTION: T = {
    Language.FR: "Demande d'aide en réponse à la vérification de sécurité: {crisis}.",
    Language.NL: "Hulpvraag als antwoord op de veiligheidscheck: {crisis}.",
    Language.DE: "Hilfeersuchen als Antwort auf die Sicherheitsabfrage: {crisis}.",
    Language.EN: "Request for help in answer to the welfare check: {crisis}.",
}


# The spoken acknowledgement of a key pressed on the welfare call.
VOICE_WELFARE_SAFE: T = {
    Language.FR: "Merci. Nous avons noté que vous êtes en sécurité. Au revoir.",
    Language.NL: "Dank u. We hebben genoteerd dat u veilig bent. Tot ziens.",
    Language.DE: "Danke. Wir haben vermerkt, dass Sie in Sicherheit sind. Auf Wiederhören.",
    Language.EN: "Thank you. We have noted that you are safe. Goodbye.",
}

VOICE_WELFARE_HELP: T = {
    Language.FR: "Merci. Un agent va vous rappeler. Votre numéro de dossier vous est envoyé par SMS.",
    Language.NL: "Dank u. Een medewerker belt u terug. Uw dossiernummer krijgt u per sms.",
    Language.DE: "Danke. Ein Mitarbeiter ruft Sie zurück. Ihr Aktenzeichen erhalten Sie per SMS.",
    Language.EN: "Thank you. An officer will call you back. Your case reference is sent to you by text message.",
}

VOICE_WELFARE_UNCLEAR: T = {
    Language.FR: "Merci. Un agent va vous rappeler.",
    Language.NL: "Dank u. Een medewerker belt u terug.",
    Language.DE: "Danke. Ein Mitarbeiter ruft Sie zurück.",
    Language.EN: "Thank you. An officer will call you back.",
}


# --- check-in by SMS during a crisis ------------------------------------------------------------------------------

CHECK_IN_SAFE: T = {
    Language.FR: "Merci. Vous êtes compté(e) en sécurité: {crisis}. Ligne de crise: {hotline}",
    Language.NL: "Dank u. U bent als veilig geteld: {crisis}. Crisislijn: {hotline}",
    Language.DE: "Danke. Sie sind als in Sicherheit erfasst: {crisis}. Krisentelefon: {hotline}",
    Language.EN: "Thank you. You are counted as safe: {crisis}. Crisis hotline: {hotline}",
}

CHECK_IN_WHERE: T = {
    Language.FR: "Où êtes-vous? Répondez avec le nom de la ville ou du village où vous êtes.",
    Language.NL: "Waar bent u? Antwoord met de naam van de stad of het dorp waar u bent.",
    Language.DE: "Wo sind Sie? Antworten Sie mit dem Namen der Stadt oder des Ortes, wo Sie sind.",
    Language.EN: "Where are you? Reply with the name of the town or village where you are.",
}

CHECK_IN_NOT_FOUND: T = {
    Language.FR: "Nous n'avons pas trouvé \"{place}\". Répondez avec le nom de la ville la plus proche.",
    Language.NL: "We vonden \"{place}\" niet. Antwoord met de naam van de dichtstbijzijnde stad.",
    Language.DE: "Wir haben \"{place}\" nicht gefunden. Antworten Sie mit dem Namen der nächsten Stadt.",
    Language.EN: "We could not find \"{place}\". Reply with the name of the nearest town.",
}

CHECK_IN_OUTSIDE: T = {
    Language.FR: "Merci. {place} est hors de la zone de la crise ({crisis}): vous n'y êtes pas compté(e). "
                 "Besoin d'aide: {hotline}",
    Language.NL: "Dank u. {place} ligt buiten het crisisgebied ({crisis}): u wordt er niet in geteld. "
                 "Hulp nodig: {hotline}",
    Language.DE: "Danke. {place} liegt außerhalb des Krisengebiets ({crisis}): Sie werden dort nicht gezählt. "
                 "Hilfe: {hotline}",
    Language.EN: "Thank you. {place} is outside the crisis area ({crisis}): you are not counted in it. "
                 "Need help: {hotline}",
}

CHECK_IN_TOO_MANY: T = {
    Language.FR: "Trop de messages de ce numéro. Appelez la ligne de crise: {hotline}",
    Language.NL: "Te veel berichten van dit nummer. Bel de crisislijn: {hotline}",
    Language.DE: "Zu viele Nachrichten von dieser Nummer. Rufen Sie das Krisentelefon an: {hotline}",
    Language.EN: "Too many messages from this number. Call the crisis hotline: {hotline}",
}
