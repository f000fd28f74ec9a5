"""Identity descriptors (CHAT's ID-txt): name, age band, gender presentation, an espeak-ng voice,
appearance words and a personality, consistent with the speaker's role.

Everything is drawn from the given ``random.Random``, so an identity is reproducible from a seed.
"""

from __future__ import annotations

import random
import unicodedata

from dyad.domain import AGE_BANDS, GENDERS, Identity
from dyad.errors import InvalidInput
from dyad.services.dialogue.writing.relations import role_gender, role_side


def _split(text: str) -> tuple[str, ...]:
    return tuple(text.split())


def _split_on(text: str) -> tuple[str, ...]:
    return tuple(p.strip() for p in text.split("|"))


FEMININE_NAMES = _split(
    "Amara Aisha Ana Aroha Astrid Beatriz Chiara Chloe Daniela Divya Elif Emma Fatima Freya Grace "
    "Hana Ines Ingrid Isabel Jia Kalani Keiko Layla Leilani Lucia Mariam Maya Mei Nadia Naledi "
    "Niamh Nkechi Olena Paloma Priya Rosa Sakura Samira Siobhán Sofia Thandiwe Valentina Yara "
    "Yasmin Zainab Zoë Zofia"
)
MASCULINE_NAMES = _split(
    "Adebayo Ahmed Aleksander Andrés Arjun Bilal Callum Carlos Chen Dawit Diego Emeka Ethan Farid "
    "Finn Gabriel Hamza Hiroshi Ibrahim Ivan Jamal José Kai Kenji Kofi Leon Liam Luca Mateo "
    "Mehmet Minh Musa Nikolai Omar Oscar Pedro Rafael Rahul Rohan Santiago Sione Tariq Tomás "
    "Wei Yusuf Zane"
)
NEUTRAL_NAMES = _split(
    "Alex Ari Avery Charlie Eden Jesse Jordan Kiran Morgan Noor Quinn Remy Riley Robin Rowan Sam "
    "Sasha Sky Tal Yuki"
)
SURNAMES = _split(
    "Abara Adeyemi Ahmadi Alvarez Andersson Banerjee Bianchi Campbell Chen Costa Dubois Eriksen "
    "Fernandes Garcia Haddad Hoang Ivanova Jensen Kaur Kim Kowalski Kuznetsov Larsen Mbeki "
    "Mendoza Morales Murphy Nakamura Nguyen Novak Obi Okafor Oyelaran Papadopoulos Park Patel "
    "Quispe Rahman Reyes Rossi Sato Schmidt Silva Singh Takahashi Tanaka Tehrani Walsh Wiśniewski "
    "Yamamoto Yilmaz Zhang"
)

# role → age bands it may have (the first is the most likely)
_ROLE_AGES: dict[str, tuple[str, ...]] = {
    "grandmother": ("senior",),
    "grandfather": ("senior",),
    "grandparent": ("senior",),
    "grandson": ("child", "teen"),
    "granddaughter": ("child", "teen"),
    "grandchild": ("child", "teen"),
    "mother": ("adult", "young_adult", "senior"),
    "father": ("adult", "young_adult", "senior"),
    "parent": ("adult", "young_adult", "senior"),
    "stepmother": ("adult", "senior"),
    "stepfather": ("adult", "senior"),
    "stepparent": ("adult", "senior"),
    "son": ("teen", "child", "young_adult", "adult"),
    "daughter": ("teen", "child", "young_adult", "adult"),
    "child": ("child", "teen"),
    "stepson": ("teen", "child", "young_adult"),
    "stepdaughter": ("teen", "child", "young_adult"),
    "stepchild": ("teen", "child"),
    "aunt": ("adult", "senior"),
    "uncle": ("adult", "senior"),
    "niece": ("teen", "child", "young_adult"),
    "nephew": ("teen", "child", "young_adult"),
    "mother-in-law": ("senior", "adult"),
    "father-in-law": ("senior", "adult"),
    "son-in-law": ("adult", "young_adult"),
    "daughter-in-law": ("adult", "young_adult"),
    "classmate": ("young_adult", "teen"),
    "roommate": ("young_adult",),
    "teammate": ("young_adult", "teen", "adult"),
    "colleague": ("adult", "young_adult"),
    "manager": ("adult", "senior"),
    "employee": ("young_adult", "adult"),
    "intern": ("young_adult",),
    "professor": ("adult", "senior"),
    "teacher": ("adult", "young_adult", "senior"),
    "student": ("young_adult", "teen"),
    "doctor": ("adult", "senior", "young_adult"),
    "nurse": ("adult", "young_adult"),
    "patient": ("adult", "senior", "young_adult", "teen"),
    "interviewer": ("adult", "senior"),
    "candidate": ("young_adult", "adult"),
    "coach": ("adult", "senior"),
    "player": ("young_adult", "teen"),
    "customer": ("adult", "young_adult", "senior"),
    "waiter": ("young_adult", "teen"),
    "waitress": ("young_adult", "teen"),
    "shop assistant": ("young_adult", "teen"),
    "husband": ("adult", "young_adult", "senior"),
    "wife": ("adult", "young_adult", "senior"),
    "partner": ("adult", "young_adult", "senior"),
    "boyfriend": ("young_adult", "adult"),
    "girlfriend": ("young_adult", "adult"),
    "fiancé": ("young_adult", "adult"),
    "fiancée": ("young_adult", "adult"),
}
_DEFAULT_AGES = ("adult", "young_adult", "senior", "teen")
_VOICES = {  # espeak-ng variants by gender and age: higher-pitched ones for children and teens
    ("feminine", "child"): ("f5", "f3"),
    ("feminine", "teen"): ("f5", "f3", "f2"),
    ("feminine", "young_adult"): ("f2", "f3", "f4", "f5"),
    ("feminine", "adult"): ("f2", "f4", "f3"),
    ("feminine", "senior"): ("f1", "f4"),
    ("masculine", "child"): ("f5", "f3"),
    ("masculine", "teen"): ("m2", "m6", "f4"),
    ("masculine", "young_adult"): ("m2", "m3", "m6", "m7"),
    ("masculine", "adult"): ("m3", "m4", "m7", "klatt"),
    ("masculine", "senior"): ("m1", "m8"),
    ("androgynous", "child"): ("f5", "f3"),
    ("androgynous", "teen"): ("f4", "m2"),
    ("androgynous", "young_adult"): ("klatt2", "m5", "f4"),
    ("androgynous", "adult"): ("klatt", "klatt3", "m5"),
    ("androgynous", "senior"): ("m1", "f1"),
}
_SKIN = _split_on(
    "deep brown skin | dark brown skin | brown skin | olive skin | tan skin | light brown skin"
    " | fair skin | pale freckled skin | warm beige skin"
)
_HAIR_COLOUR = ("black", "dark brown", "chestnut", "auburn", "red", "blond", "light brown")
_GREY = ("grey", "silver", "white", "salt-and-pepper")
_HAIR_STYLE = {
    "feminine": (
        *("long straight", "shoulder-length wavy", "curly", "braided", "short bob"),
        *("high ponytail", "pixie-cut", "long curly", "bun-tied"),
    ),
    "masculine": (
        *("short", "buzz-cut", "curly", "slicked-back", "shoulder-length"),
        *("cropped", "tousled", "short twisted"),
    ),
    "androgynous": ("short curly", "asymmetric", "chin-length", "shaved-side", "tousled"),
}
_EYES = ("brown eyes", "dark brown eyes", "hazel eyes", "green eyes", "blue eyes", "grey eyes")
_EXTRAS_ANY = ("round glasses", "thin-rimmed glasses", "dimples", "a warm smile", "freckles")
_EXTRAS_AGE = {
    "child": ("a gap-toothed grin", "a plaster on one knee", "rosy cheeks"),
    "teen": ("braces", "a hoodie", "headphones around the neck"),
    "young_adult": ("a nose ring", "small hoop earrings", "a denim jacket"),
    "adult": ("laugh lines", "a neat blazer", "reading glasses on a cord"),
    "senior": ("deep laugh lines", "a knitted cardigan", "bifocals"),
}
_FACIAL_HAIR = ("a short beard", "a full beard", "stubble", "a moustache", "a goatee")
PERSONALITIES = (
    "warm and talkative",
    "calm and methodical",
    "quick-witted with a dry sense of humour",
    "anxious but kind",
    "cheerful and energetic",
    "blunt and practical",
    "a patient listener",
    "curious and a little shy",
    "thoughtful and soft-spoken",
    "stubborn but fair",
    "easily excited",
    "gentle and reassuring",
    "sarcastic but loyal",
    "organised and a bit bossy",
    "dreamy and easily distracted",
    "confident and direct",
    "nervous in new situations",
    "playful and teasing",
)


def _fold(name: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", name) if c.isalpha()).lower()


def name_gender(first_name: str) -> str | None:
    """The gender presentation a first name has in the built-in lists (accents ignored)."""
    key = _fold(first_name)
    for gender, names in zip(
        GENDERS, (FEMININE_NAMES, MASCULINE_NAMES, NEUTRAL_NAMES), strict=True
    ):
        if key in {_fold(n) for n in names}:
            return gender
    return None


_ELDERS = {"mother", "father", "parent", "grandmother", "grandfather", "grandparent", "aunt"}
_ELDERS |= {"uncle", "stepmother", "stepfather", "stepparent", "mother-in-law", "father-in-law"}
_ELDERS |= {"teacher", "professor", "coach"}
_PAIR_AGES = {("professor", "student"): ("young_adult",), ("teacher", "student"): ("child", "teen")}


def age_bands_for_roles(
    roles: tuple[str | None, str | None], rng: random.Random
) -> tuple[str, str]:
    """Age bands for two speakers: an elder role (parent, grandparent, aunt, teacher) is older
    than the other, a parent by one or two bands (an adult may have a child); equal roles get the
    same or a neighbouring band."""
    r0, r1 = roles[0] or "", roles[1] or ""
    if r1 in _ELDERS and role_side(r0) == 1:  # junior first: draw the pair the other way round
        second, first = age_bands_for_roles((r1, r0), rng)
        return first, second
    first = rng.choice(_ROLE_AGES.get(r0, _DEFAULT_AGES))
    second_opts = _PAIR_AGES.get((r0, r1), _ROLE_AGES.get(r1, _DEFAULT_AGES))
    i = AGE_BANDS.index(first)
    if r0 in _ELDERS and role_side(r1) == 1:
        widest = 4 if "grand" in r0 or r0 in ("teacher", "professor", "coach") else 2
        widest = 3 if r0 in ("aunt", "uncle") else widest

        def fits(old: str, young: str) -> bool:
            gap = AGE_BANDS.index(old) - AGE_BANDS.index(young)
            if r0 not in ("teacher", "professor", "coach") and (old, young) == (
                "young_adult",
                "teen",
            ):
                return False  # too close for a parent, aunt or grandparent
            return 1 <= gap <= widest or (old, young) == ("adult", "child")

        ok = [b for b in second_opts if fits(first, b)]
        if not ok:  # the elder's band leaves no room: let the younger one decide
            second = rng.choice(second_opts)
            elder = [b for b in _ROLE_AGES.get(r0, _DEFAULT_AGES) if fits(b, second)]
            return rng.choice(elder or ["senior"]), second
        return first, rng.choice(ok)
    near = [b for b in second_opts if abs(AGE_BANDS.index(b) - i) <= 1]
    if first in second_opts and rng.random() < 0.6:
        return first, first
    return first, rng.choice(near or list(second_opts))


def _voice(rng: random.Random, gender: str, age_band: str) -> str:
    # espeak-ng 1.51 ignores the variant after plain `en-gb`; `en-gb-x-rp` honours it.
    return f"{rng.choice(('en-us', 'en-gb-x-rp'))}+{rng.choice(_VOICES[(gender, age_band)])}"


def _appearance(
    rng: random.Random, gender: str, age_band: str, relative: Identity | None
) -> tuple[str, ...]:
    colour = rng.choice(_GREY) if age_band == "senior" else rng.choice(_HAIR_COLOUR)
    if age_band == "adult" and rng.random() < 0.2:
        colour = "greying " + colour
    hair = f"{rng.choice(_HAIR_STYLE[gender])} {colour} hair"
    if gender == "masculine" and age_band in ("adult", "senior") and rng.random() < 0.2:
        hair = "a shaved head" if rng.random() < 0.5 else f"thinning {colour} hair"
    skin = rng.choice(_SKIN)
    if relative is not None:
        skin = next((w for w in relative.appearance if w.endswith(" skin")), skin)
    words = [skin, hair, rng.choice(_EYES)]
    grown = age_band in ("young_adult", "adult", "senior")
    if gender == "masculine" and grown and rng.random() < 0.45:
        words.append(rng.choice(_FACIAL_HAIR))
    extras = list(_EXTRAS_ANY + _EXTRAS_AGE[age_band])
    words.extend(rng.sample(extras, rng.randint(1, 2)))
    return tuple(words)


def make_identity(
    rng: random.Random,
    *,
    role: str | None = None,
    age_band: str | None = None,
    gender: str | None = None,
    exclude_names: set[str] | frozenset[str] = frozenset(),
    name: str | None = None,
    surname: str | None = None,
    relative: Identity | None = None,
) -> Identity:
    """An identity for a speaker playing ``role``. ``age_band``/``gender`` are drawn to fit the
    role when not given; ``name`` (a first name) and ``surname`` are drawn when not given, never
    with a first name in ``exclude_names`` (full names or first names). A blood ``relative``
    passes on their skin tone."""
    if age_band is not None and age_band not in AGE_BANDS:
        raise InvalidInput("age_band", f"{age_band!r} is not one of {list(AGE_BANDS)}")
    if gender is not None and gender not in GENDERS:
        raise InvalidInput("gender", f"{gender!r} is not one of {list(GENDERS)}")
    if gender is None:
        gender = (role_gender(role) if role else None) or (name_gender(name) if name else None)
    if gender is None:
        gender = rng.choices(GENDERS, (0.46, 0.46, 0.08))[0]
    if age_band is None:
        age_band = rng.choice(_ROLE_AGES.get(role or "", _DEFAULT_AGES))
    if name is None:
        taken = {_fold(n.split()[0]) for n in exclude_names if n.strip()}
        pool = {"feminine": FEMININE_NAMES, "masculine": MASCULINE_NAMES}.get(gender, NEUTRAL_NAMES)
        if gender != "androgynous" and rng.random() < 0.1:
            pool = NEUTRAL_NAMES
        free = [n for n in pool if _fold(n) not in taken] or [
            n for n in NEUTRAL_NAMES + FEMININE_NAMES if _fold(n) not in taken
        ]
        name = rng.choice(free)
    full = f"{name} {surname or rng.choice(SURNAMES)}"
    return Identity(
        name=full,
        age_band=age_band,
        gender_presentation=gender,
        voice=_voice(rng, gender, age_band),
        appearance=_appearance(rng, gender, age_band, relative),
        personality=rng.choice(PERSONALITIES),
    )
