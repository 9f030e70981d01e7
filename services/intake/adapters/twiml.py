"""TwiML documents for the SMS and voice webhooks (twilio.twiml), from the domain's texts and routes.

Every action URL is absolute, built on the public base URL Twilio calls (`PUBLIC_BASE_URL`, path included, e.g.
`https://consular.example.org/intake`): a root-relative one would drop a path prefix behind a proxy."""

from __future__ import annotations

from collections.abc import Sequence
from urllib.parse import urlencode

from twilio.twiml.messaging_response import MessagingResponse
from twilio.twiml.voice_response import Gather, VoiceResponse

from services.intake.domain import texts
from services.intake.domain.model import Language
from services.intake.domain.voice import Utterance

VOICE = "/twilio/voice"


def _say(response: VoiceResponse | Gather, text: str, language: Language) -> None:
    response.say(text, language=texts.VOICE_LOCALE[language])


def url(path: str, **query: object) -> str:
    return f"{path}?{urlencode(query)}" if query else path


def sms_reply(text: str) -> str:
    response = MessagingResponse()
    response.message(text)
    return str(response)


def greeting(announcements: Sequence[Utterance], menu: Sequence[Utterance], *, base: str) -> str:
    response = VoiceResponse()
    for utterance in announcements:
        _say(response, utterance.text, utterance.language)
    gather = Gather(num_digits=1, action=f"{base}{VOICE}/language", method="POST", timeout=8)
    for utterance in menu:
        _say(gather, utterance.text, utterance.language)
    response.append(gather)
    response.redirect(f"{base}{VOICE}", method="POST")
    return str(response)


def main_menu(language: Language, *, base: str, invalid: bool = False) -> str:
    response = VoiceResponse()
    if invalid:
        _say(response, texts.VOICE_INVALID[language], language)
    gather = Gather(num_digits=1, action=url(f"{base}{VOICE}/menu", lang=language.value), method="POST", timeout=8)
    _say(gather, texts.VOICE_MAIN_MENU[language], language)
    response.append(gather)
    response.redirect(url(f"{base}{VOICE}/language", lang=language.value), method="POST")
    return str(response)


def dial(language: Language, number: str, *, base: str, attempt: int, timeout: int, caller_id: str | None) -> str:
    response = VoiceResponse()
    _say(response, texts.VOICE_CONNECTING[language], language)
    response.dial(number, timeout=timeout, caller_id=caller_id, method="POST",
                  action=url(f"{base}{VOICE}/dial", lang=language.value, attempt=attempt))
    return str(response)


def record(language: Language, *, base: str) -> str:
    response = VoiceResponse()
    _say(response, texts.VOICE_RECORD[language], language)
    response.record(action=url(f"{base}{VOICE}/recorded", lang=language.value), method="POST", max_length=180,
                    play_beep=True, finish_on_key="#")
    response.hangup()
    return str(response)


def recorded(language: Language, reference: str) -> str:
    response = VoiceResponse()
    spoken = " ".join(reference.replace("-", " "))
    _say(response, texts.render(texts.VOICE_RECORDED, language, reference=spoken), language)
    response.hangup()
    return str(response)


def said(text: str, language: Language) -> str:
    """Say one thing and hang up (the welfare call's acknowledgement)."""
    response = VoiceResponse()
    _say(response, text, language)
    response.hangup()
    return str(response)


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response)


def restart(*, base: str) -> str:
    response = VoiceResponse()
    response.redirect(f"{base}{VOICE}", method="POST")
    return str(response)
