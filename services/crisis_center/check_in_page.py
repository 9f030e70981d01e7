"""The public check-in page of an active crisis: the form (`GET`), its one-time code (`POST`), its confirmation
(`POST .../verify`). Plain HTML forms in the person's language that work without script on any phone; one small
same-origin script adds the map's taps and the phone's position (`/public/check-in.js`)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Any, Literal

import asyncpg
from fastapi import APIRouter, Form, Query, Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, select_autoescape

from services.crisis_center import check_in
from services.crisis_center.adapters import check_in_repository
from services.crisis_center.check_in_form import Fields, read_form
from services.crisis_center.deps import ApiState, CrisisId, Deps
from services.crisis_center.domain.area_map import AreaMap, area_map
from services.crisis_center.welfare_api import HEADERS
from shared.geo import Area
from shared.openapi import NO_DATABASE

Lang = Literal["fr", "nl", "de", "en"]

_TEXT: dict[str, dict[str, str]] = {
    "en": {"title": "Check in", "how": "How are you?",
           "no_position": "Your position is not available: tap the map or write the place.",
           "intro": "Belgian and in the area of this crisis? Tell us how you are.",
           "name": "Your name", "phone": "Mobile phone (the code is sent there)", "email": "Email (if no phone)",
           "language": "Language", "place": "Where are you? (town, district)", "lat": "Or your position: latitude",
           "lon": "longitude", "companions": "How many people are with you?", "safe": "I am safe",
           "needs_help": "I need help", "send": "Send", "code_sent": "We sent you a code. Enter it to confirm.",
           "code": "Code", "confirm": "Confirm", "thanks_safe": "Thank you. You are counted as safe.",
           "thanks_help": "Thank you. An officer will contact you; you will receive the reference of your case.",
           "outside": "This place is outside the crisis area: you are not counted in it.",
           "not_found": "We could not find this place. Give the nearest town, or your position.",
           "need_contact": "Give a mobile phone number or an email address.",
           "bad_phone": "This phone number is not valid.", "bad_email": "This email address is not valid.",
           "need_name": "Give your name.", "wrong": "This code is not right. Try again.",
           "expired": "This code has expired. Check in again.", "too_many": "Too many tries. Check in again later.",
           "limited": "Too many check-ins from here in the last hour. Call the crisis hotline.",
           "closed": "This crisis is closed.", "unknown": "No such crisis or check-in.",
           "hotline": "Crisis hotline (24/7):", "ministry": "FPS Foreign Affairs - Crisis Centre",
           "tap": "Tap the map where you are (or use your phone's position).",
           "use_position": "Use my position"},
    "fr": {"title": "Se signaler", "how": "Comment allez-vous ?",
           "no_position": "Votre position n'est pas disponible : touchez la carte ou écrivez le lieu.",
           "intro": "Belge dans la zone de cette crise ? Dites-nous comment vous allez.",
           "name": "Votre nom", "phone": "Téléphone mobile (le code y est envoyé)",
           "email": "E-mail (sans téléphone)", "language": "Langue",
           "place": "Où êtes-vous ? (ville, quartier)", "lat": "Ou votre position : latitude", "lon": "longitude",
           "companions": "Combien de personnes sont avec vous ?", "safe": "Je suis en sécurité",
           "needs_help": "J'ai besoin d'aide", "send": "Envoyer",
           "code_sent": "Nous vous avons envoyé un code. Entrez-le pour confirmer.", "code": "Code",
           "confirm": "Confirmer", "thanks_safe": "Merci. Vous êtes compté(e) en sécurité.",
           "thanks_help": "Merci. Un agent va vous contacter ; vous recevrez la référence de votre dossier.",
           "outside": "Ce lieu est hors de la zone de la crise : vous n'y êtes pas compté(e).",
           "not_found": "Nous n'avons pas trouvé ce lieu. Indiquez la ville la plus proche, ou votre position.",
           "need_contact": "Indiquez un numéro de mobile ou une adresse e-mail.",
           "bad_phone": "Ce numéro n'est pas valable.", "bad_email": "Cette adresse e-mail n'est pas valable.",
           "need_name": "Indiquez votre nom.", "wrong": "Ce code n'est pas correct. Réessayez.",
           "expired": "Ce code a expiré. Signalez-vous à nouveau.",
           "too_many": "Trop d'essais. Signalez-vous à nouveau plus tard.",
           "limited": "Trop de signalements d'ici depuis une heure. Appelez la ligne de crise.",
           "closed": "Cette crise est close.", "unknown": "Crise ou signalement inconnu.",
           "hotline": "Ligne de crise (24 h/24) :", "ministry": "SPF Affaires étrangères - Centre de crise",
           "tap": "Touchez la carte là où vous êtes (ou utilisez la position de votre téléphone).",
           "use_position": "Utiliser ma position"},
    "nl": {"title": "Aanmelden", "how": "Hoe gaat het met u?",
           "no_position": "Uw positie is niet beschikbaar: tik op de kaart of schrijf de plaats.",
           "intro": "Belg in het gebied van deze crisis? Laat ons weten hoe het met u gaat.",
           "name": "Uw naam", "phone": "Gsm-nummer (de code komt daarheen)", "email": "E-mail (zonder gsm)",
           "language": "Taal", "place": "Waar bent u? (stad, wijk)", "lat": "Of uw positie: breedtegraad",
           "lon": "lengtegraad", "companions": "Hoeveel mensen zijn bij u?", "safe": "Ik ben veilig",
           "needs_help": "Ik heb hulp nodig", "send": "Versturen",
           "code_sent": "We stuurden u een code. Vul ze in om te bevestigen.", "code": "Code",
           "confirm": "Bevestigen", "thanks_safe": "Dank u. U bent als veilig geteld.",
           "thanks_help": "Dank u. Een medewerker neemt contact met u op; u krijgt de referentie van uw dossier.",
           "outside": "Deze plaats ligt buiten het crisisgebied: u wordt er niet in geteld.",
           "not_found": "We vonden deze plaats niet. Geef de dichtstbijzijnde stad, of uw positie.",
           "need_contact": "Geef een gsm-nummer of een e-mailadres.", "bad_phone": "Dit nummer is niet geldig.",
           "bad_email": "Dit e-mailadres is niet geldig.", "need_name": "Geef uw naam.",
           "wrong": "Deze code klopt niet. Probeer opnieuw.", "expired": "Deze code is verlopen. Meld u opnieuw aan.",
           "too_many": "Te veel pogingen. Meld u later opnieuw aan.",
           "limited": "Te veel aanmeldingen van hier in het voorbije uur. Bel de crisislijn.",
           "closed": "Deze crisis is afgesloten.", "unknown": "Onbekende crisis of aanmelding.",
           "hotline": "Crisislijn (24/7):", "ministry": "FOD Buitenlandse Zaken - Crisiscentrum",
           "tap": "Tik op de kaart waar u bent (of gebruik de positie van uw telefoon).",
           "use_position": "Mijn positie gebruiken"},
    "de": {"title": "Melden", "how": "Wie geht es Ihnen?",
           "no_position": "Ihre Position ist nicht verfügbar: tippen Sie auf die Karte oder schreiben Sie den Ort.",
           "intro": "Belgier im Gebiet dieser Krise? Sagen Sie uns, wie es Ihnen geht.",
           "name": "Ihr Name", "phone": "Mobiltelefon (der Code geht dorthin)", "email": "E-Mail (ohne Telefon)",
           "language": "Sprache", "place": "Wo sind Sie? (Stadt, Viertel)", "lat": "Oder Ihre Position: Breite",
           "lon": "Länge", "companions": "Wie viele Personen sind bei Ihnen?", "safe": "Ich bin in Sicherheit",
           "needs_help": "Ich brauche Hilfe", "send": "Senden",
           "code_sent": "Wir haben Ihnen einen Code geschickt. Geben Sie ihn zur Bestätigung ein.",
           "code": "Code", "confirm": "Bestätigen", "thanks_safe": "Danke. Sie sind als in Sicherheit erfasst.",
           "thanks_help": "Danke. Ein Mitarbeiter wird Sie kontaktieren; Sie erhalten Ihr Aktenzeichen.",
           "outside": "Dieser Ort liegt außerhalb des Krisengebiets: Sie werden dort nicht gezählt.",
           "not_found": "Wir haben diesen Ort nicht gefunden. Nennen Sie die nächste Stadt oder Ihre Position.",
           "need_contact": "Geben Sie eine Mobilnummer oder eine E-Mail-Adresse an.",
           "bad_phone": "Diese Nummer ist nicht gültig.", "bad_email": "Diese E-Mail-Adresse ist nicht gültig.",
           "need_name": "Geben Sie Ihren Namen an.", "wrong": "Dieser Code stimmt nicht. Versuchen Sie es erneut.",
           "expired": "Dieser Code ist abgelaufen. Melden Sie sich erneut.",
           "too_many": "Zu viele Versuche. Melden Sie sich später erneut.",
           "limited": "Zu viele Meldungen von hier in der letzten Stunde. Rufen Sie das Krisentelefon an.",
           "closed": "Diese Krise ist beendet.", "unknown": "Unbekannte Krise oder Meldung.",
           "hotline": "Krisentelefon (rund um die Uhr):", "ministry": "FÖD Auswärtige Angelegenheiten - Krisenzentrum",
           "tap": "Tippen Sie auf der Karte, wo Sie sind (oder nutzen Sie die Position Ihres Telefons).",
           "use_position": "Meine Position verwenden"},
}
_NAMES = {"fr": "Français", "nl": "Nederlands", "de": "Deutsch", "en": "English"}

_PAGE = Environment(autoescape=select_autoescape(default=True)).from_string("""<!doctype html>
<html lang="{{ lang }}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
<title>{{ t.title }}{% if crisis %} - {{ crisis.title }}{% endif %}</title>
<style>body{font-family:system-ui,sans-serif;max-width:36rem;margin:2rem auto;padding:0 1rem;line-height:1.5}
label{display:block;margin-top:.8rem}input,select{font-size:1rem;padding:.3rem;width:100%;box-sizing:border-box}
fieldset{border:0;padding:0;margin-top:.8rem}fieldset label{display:inline;margin-right:1rem}
fieldset input{width:auto}button{font-size:1.1rem;padding:.5rem 1rem;margin-top:1rem}.error{color:#b00020}
nav a{margin-right:.6rem}figure{margin:1rem 0}#area-map{width:100%;height:auto;touch-action:manipulation}
</style></head>
<body><p>{{ t.ministry }}</p>
{% if form == "details" %}<nav aria-label="{{ t.language }}">{% for code, name in names.items() %}
<a href="?lang={{ code }}" lang="{{ code }}">{{ name }}</a>{% endfor %}</nav>{% endif %}
<h1>{{ t.title }}{% if crisis %}: {{ crisis.title }}{% endif %}</h1>
{% if error %}<p class="error" role="alert">{{ error }}</p>{% endif %}
{% if message %}<p role="status">{{ message }}</p>{% endif %}
{% if form == "details" %}<p>{{ t.intro }}</p>
<form method="post">
<label for="full_name">{{ t.name }}</label><input id="full_name" name="full_name" required maxlength="200"
 autocomplete="name" value="{{ v.full_name or '' }}">
<label for="phone">{{ t.phone }}</label><input id="phone" name="phone" type="tel" maxlength="40"
 autocomplete="tel" value="{{ v.phone or '' }}">
<label for="email">{{ t.email }}</label><input id="email" name="email" type="email" maxlength="254"
 autocomplete="email" value="{{ v.email or '' }}">
<label for="language">{{ t.language }}</label><select id="language" name="language">
{% for code, name in names.items() %}<option value="{{ code }}"{% if code == lang %} selected{% endif %}>
{{- name }}</option>
{% endfor %}</select>
<label for="place">{{ t.place }}</label><input id="place" name="place" maxlength="200" value="{{ v.place or '' }}">
{% if area_map %}<figure><svg id="area-map" viewBox="0 0 {{ area_map.width|round(1) }} {{ area_map.height|round(1) }}"
 role="img" aria-labelledby="map-caption" data-lat0="{{ area_map.lat0 }}" data-lon0="{{ area_map.lon0 }}"
 data-kx="{{ area_map.kx }}" data-scale="{{ area_map.scale }}" data-width="{{ area_map.width }}"
 data-height="{{ area_map.height }}">
<rect width="100%" height="100%" fill="#eef3f7"/>
{% if area_map.outline %}<path d="{{ area_map.outline }}" fill="#fde2e2" stroke="#b00020" stroke-width="2"/>{% endif %}
{% for town in area_map.towns %}<circle cx="{{ town.x|round(1) }}" cy="{{ town.y|round(1) }}" r="6" fill="#333"/>
<text x="{{ (town.x + 9)|round(1) }}" y="{{ (town.y - 6)|round(1) }}" font-size="24">{{ town.name }}</text>
{% endfor %}<circle id="map-marker" r="12" fill="#1b5e20" stroke="#fff" stroke-width="2" visibility="hidden"/>
</svg><figcaption id="map-caption">{{ t.tap }}</figcaption></figure>
<button type="button" id="use-position" hidden data-unavailable="{{ t.no_position }}">{{ t.use_position }}</button>
<p id="position-status" role="status"></p>{% endif %}
<label for="lat">{{ t.lat }}</label><input id="lat" name="lat" inputmode="decimal" maxlength="20"
 value="{{ v.lat or '' }}">
<label for="lon">{{ t.lon }}</label><input id="lon" name="lon" inputmode="decimal" maxlength="20"
 value="{{ v.lon or '' }}">
<label for="companions">{{ t.companions }}</label><input id="companions" name="companions" type="number" min="0"
 max="50" value="{{ v.companions or 0 }}">
<fieldset><legend>{{ t.how }}</legend>
<label><input type="radio" name="answer" value="safe" required{% if v.answer == "safe" %} checked{% endif %}>
 {{ t.safe }}</label>
<label><input type="radio" name="answer" value="needs_help"{% if v.answer == "needs_help" %} checked{% endif %}>
 {{ t.needs_help }}</label></fieldset>
<button type="submit">{{ t.send }}</button></form>{% endif %}
{% if form == "code" %}<form method="post" action="{{ verify_url }}">
<input type="hidden" name="check_in_id" value="{{ check_in_id }}">
<label for="code">{{ t.code }}</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code"
 required maxlength="6" pattern="[0-9]{6}">
<button type="submit">{{ t.confirm }}</button></form>{% endif %}
{% if area_map %}<script src="/public/check-in.js" defer></script>{% endif %}
{% if crisis %}<p>{{ t.hotline }}
 <a href="tel:{{ crisis.hotline_number }}">{{ crisis.hotline_number }}</a></p>{% endif %}
</body></html>""")

#: Retry-After of a 429: the check-ins of the last hour are counted; after five wrong codes, a new check-in.
LIMITED_RETRY_AFTER = 3600
TRIES_RETRY_AFTER = 60
PAGE_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"content": {"text/html": {}}},
    404: {"description": "no such crisis (or check-in)", "content": {"text/html": {}}},
    410: {"description": "the crisis is closed, or the code expired", "content": {"text/html": {}}},
    422: {"description": "the form again, naming what to correct; or a wrong code (HTML); a field out of bounds "
                         "(JSON)", "content": {"text/html": {}, "application/json": {}}},
    429: {"description": "too many check-ins from this phone, address or client in the last hour (Retry-After: "
                         f"{LIMITED_RETRY_AFTER} s), or too many tries of the code (check in again: Retry-After: "
                         f"{TRIES_RETRY_AFTER} s)", "content": {"text/html": {}}},
}


# The page's one script (same origin): the map's taps and the phone's position fill in latitude and longitude.
SCRIPT = """"use strict";
const map = document.getElementById("area-map");
const lat = document.getElementById("lat");
const lon = document.getElementById("lon");
const marker = document.getElementById("map-marker");
function show(la, lo) {
  const d = map.dataset;
  const x = Number(d.width) / 2 + (lo - Number(d.lon0)) * Number(d.kx) * Number(d.scale);
  const y = Number(d.height) / 2 - (la - Number(d.lat0)) * Number(d.scale);
  marker.setAttribute("cx", x.toFixed(1));
  marker.setAttribute("cy", y.toFixed(1));
  marker.setAttribute("visibility", "visible");
}
function set(la, lo) {
  lat.value = la.toFixed(5);
  lon.value = lo.toFixed(5);
  show(la, lo);
}
if (map && lat && lon && marker) {
  map.addEventListener("click", (event) => {
    const point = map.createSVGPoint();
    point.x = event.clientX;
    point.y = event.clientY;
    const at = point.matrixTransform(map.getScreenCTM().inverse());
    const d = map.dataset;
    set(Number(d.lat0) - (at.y - Number(d.height) / 2) / Number(d.scale),
        Number(d.lon0) + (at.x - Number(d.width) / 2) / (Number(d.scale) * Number(d.kx)));
  });
  const typed = () => {
    if (lat.value && lon.value && Number.isFinite(Number(lat.value)) && Number.isFinite(Number(lon.value))) {
      show(Number(lat.value), Number(lon.value));
    }
  };
  typed();
  lat.addEventListener("change", typed);
  lon.addEventListener("change", typed);
  const locate = document.getElementById("use-position");
  const status = document.getElementById("position-status");
  if (locate && status && navigator.geolocation) {
    locate.hidden = false;
    locate.addEventListener("click", () => {
      status.textContent = "";
      navigator.geolocation.getCurrentPosition(
        (found) => set(found.coords.latitude, found.coords.longitude),
        () => { status.textContent = locate.dataset.unavailable; },
        {enableHighAccuracy: true, timeout: 15000, maximumAge: 60000});
    });
  }
}
"""
PAGE_HEADERS = {**HEADERS, "Content-Security-Policy": HEADERS["Content-Security-Policy"].replace(
    "default-src 'none';", "default-src 'none'; script-src 'self';")}


def _page(language: str, *, status: int = 200, crisis: Any = None, form: str | None = None,
          message: str | None = None, error: str | None = None, values: dict[str, Any] | None = None,
          check_in_id: str | None = None, verify_url: str | None = None, drawn: AreaMap | None = None,
          retry_after: int | None = None) -> HTMLResponse:
    lang = language if language in _TEXT else "en"
    html = _PAGE.render(lang=lang, t=_TEXT[lang], names=_NAMES, crisis=crisis, form=form, message=message,
                        error=error, v=values or {}, check_in_id=check_in_id, verify_url=verify_url,
                        area_map=drawn if form == "details" else None)
    headers = PAGE_HEADERS if retry_after is None else {**PAGE_HEADERS, "Retry-After": str(retry_after)}
    return HTMLResponse(html, status_code=status, headers=headers)


router = APIRouter()


def _drawn(state: ApiState, crisis: asyncpg.Record) -> AreaMap | None:
    return area_map(Area.from_dict(dict(crisis["area"])), state.gazetteer.towns(str(crisis["area"]["country"])))


async def _crisis_of(state: ApiState, crisis_id: str) -> asyncpg.Record | None:
    return await check_in_repository.crisis_for_page(state.pool, crisis_id=crisis_id)


def _verify_url(crisis_id: str, lang: str) -> str:
    return f"/public/crises/{crisis_id}/check-in/verify?lang={lang}"


@router.get("/public/check-in.js", tags=["public"], response_class=Response, openapi_extra=NO_DATABASE,
            responses={200: {"content": {"text/javascript": {}}}})
async def check_in_script() -> Response:
    """The check-in page's script: a tap on the map, or the phone's position, gives latitude and longitude."""
    return Response(SCRIPT, media_type="text/javascript",
                    headers={"Cache-Control": "public, max-age=3600", "X-Content-Type-Options": "nosniff"})


@router.get("/public/crises/{crisis_id}/check-in", response_class=HTMLResponse, tags=["public"],
            responses=PAGE_RESPONSES)
async def check_in_form(crisis_id: CrisisId, state: Deps, lang: Lang = "en") -> HTMLResponse:
    """The check-in form of an active crisis, in the chosen language."""
    crisis = await _crisis_of(state, crisis_id)
    if crisis is None:
        return _page(lang, status=404, error=_TEXT[lang]["unknown"])
    if crisis["status"] != "active":
        return _page(lang, status=410, crisis=crisis, error=_TEXT[lang]["closed"])
    return _page(lang, crisis=crisis, form="details", drawn=_drawn(state, crisis))


@router.post("/public/crises/{crisis_id}/check-in", response_class=HTMLResponse, tags=["public"],
             responses=PAGE_RESPONSES)
async def check_in_start(
        crisis_id: CrisisId, request: Request, state: Deps,
        full_name: Annotated[str, Form(max_length=200)] = "", phone: Annotated[str, Form(max_length=40)] = "",
        email: Annotated[str, Form(max_length=254)] = "", language: Annotated[str, Form(max_length=5)] = "en",
        place: Annotated[str, Form(max_length=200)] = "", lat: Annotated[str, Form(max_length=20)] = "",
        lon: Annotated[str, Form(max_length=20)] = "", companions: Annotated[str, Form(max_length=4)] = "0",
        answer: Annotated[str, Form(max_length=20)] = "") -> HTMLResponse:
    """Checks the form, places the person (the town named, or the position given) and sends a one-time code by SMS
    (by email when no phone is given); outside the crisis area nothing is kept (200, saying so).

    The form again (422, HTML, naming what to correct) unless: `full_name` holds a visible character; `phone`, when
    given, is a valid number (libphonenumber; a national number is read in the crisis's country, then BE); `email`,
    when given, is an address email-validator accepts (syntax, no special-use domain such as .test, no DNS lookup);
    at least one of `phone` and `email` is given; `answer` is `safe` or `needs_help`; `lat` and `lon` (a decimal
    comma is taken; out of range: ignored) or else `place` (a town of the crisis's country) locate the person.
    `companions` is a count from 0 to 50 (anything else counts as 0); `language` is one of fr, nl, de, en (else en).
    429 after `CHECK_IN_PER_HOUR` check-ins from the same phone, address or client in an hour. E.g. `full_name=Anna
    Peeters&phone=+32470123456&answer=safe&lat=50.85&lon=4.35&companions=1`."""
    lang = check_in.language_of(language)
    text = _TEXT[lang]
    fields = Fields(full_name=full_name, phone=phone, email=email, place=place, lat=lat, lon=lon,
                    companions=companions, answer=answer)
    crisis = await _crisis_of(state, crisis_id)
    if crisis is None:
        return _page(lang, status=404, error=text["unknown"])
    if crisis["status"] != "active":
        return _page(lang, status=410, crisis=crisis, error=text["closed"])
    form = read_form(fields, language=lang, area=Area.from_dict(dict(crisis["area"])), gazetteer=state.gazetteer,
                     client_ip=request.client.host if request.client else None)
    if form == "outside":
        return _page(lang, crisis=crisis, message=text["outside"])
    if isinstance(form, str):  # the form again, naming what to correct
        return _page(lang, status=422, crisis=crisis, form="details", error=text[form], values=asdict(fields),
                     drawn=_drawn(state, crisis))
    try:
        check_in_id = await check_in.start(pool=state.pool, crisis_id=crisis_id, crisis_title=crisis["title"],
                                           form=form, now=state.now(), rules=state.check_in_rules,
                                           publishing=state.publishing)
    except check_in.Limited:
        return _page(lang, status=429, crisis=crisis, error=text["limited"], retry_after=LIMITED_RETRY_AFTER)
    return _page(lang, crisis=crisis, form="code", message=text["code_sent"], check_in_id=check_in_id,
                 verify_url=_verify_url(crisis_id, lang))


@router.post("/public/crises/{crisis_id}/check-in/verify", response_class=HTMLResponse, tags=["public"],
             responses=PAGE_RESPONSES)
async def check_in_verify(crisis_id: CrisisId, state: Deps,
                          check_in_id: Annotated[str, Form(min_length=1, max_length=64)],
                          code: Annotated[str, Form(max_length=12)] = "",
                          lang: Annotated[Lang, Query()] = "en") -> HTMLResponse:
    """Confirms the check-in with its code: the person is counted in the crisis and their answer recorded."""
    crisis = await _crisis_of(state, crisis_id)
    done = await check_in.verify(pool=state.pool, crisis_id=crisis_id, check_in_id=check_in_id, code=code,
                                 now=state.now(), rules=state.check_in_rules, publishing=state.publishing,
                                 source=state.settings.source.rstrip("/") + "/check-in")
    text = _TEXT.get(done.language, _TEXT[lang])
    if done.outcome in ("confirmed", "already"):
        return _page(done.language, crisis=crisis,
                     message=text["thanks_safe"] if done.answer == "safe" else text["thanks_help"])
    if done.outcome == "wrong":
        return _page(done.language, status=422, crisis=crisis, form="code", error=text["wrong"],
                     check_in_id=check_in_id, verify_url=_verify_url(crisis_id, lang))
    status = {"expired": 410, "closed": 410, "too_many": 429, "unknown": 404}[done.outcome]
    return _page(done.language, status=status, crisis=crisis, error=text[done.outcome],
                 retry_after=TRIES_RETRY_AFTER if status == 429 else None)
