"""What the words of an identity descriptor mean (``appearance`` reads descriptors with these).

Skin tones and the colours along their scale, hair and eye colour words, words that mean hair
on their own, hair-style keywords, gender and age words, the proportion cues (``HeadShape``
multipliers) that gender and age suggest, and what an unspecified hair or eye colour is drawn
from.
"""

from __future__ import annotations

import numpy as np

from .shape import HairStyle

RGB = tuple[float, float, float]

# Skin tone scale 0 (palest) … 1 (deepest) and the colours along it.
TONE_STOPS = np.array([0.0, 0.15, 0.3, 0.45, 0.55, 0.65, 0.8, 1.0])
TONE_RGB = np.array(
    [
        [0.96, 0.84, 0.77],
        [0.93, 0.78, 0.68],
        [0.89, 0.72, 0.60],
        [0.78, 0.62, 0.46],
        [0.70, 0.52, 0.37],
        [0.56, 0.39, 0.27],
        [0.41, 0.28, 0.19],
        [0.27, 0.18, 0.12],
    ]
)
# Two-word phrases first, so "light brown skin" is not read as "brown".
SKIN_WORDS = {
    "deep brown": 0.92,
    "dark brown": 0.8,
    "light brown": 0.55,
    "warm beige": 0.3,
    "pale": 0.03,
    "porcelain": 0.02,
    "ivory": 0.05,
    "fair": 0.15,
    "light": 0.2,
    "beige": 0.3,
    "olive": 0.45,
    "tan": 0.5,
    "tanned": 0.5,
    "golden": 0.45,
    "medium": 0.45,
    "brown": 0.65,
    "dark": 0.82,
    "deep": 0.9,
    "black": 0.95,
    "ebony": 0.95,
}
HAIR_COLOURS: dict[str, RGB] = {
    "salt-and-pepper": (0.45, 0.44, 0.43),
    "salt and pepper": (0.45, 0.44, 0.43),
    "dark brown": (0.17, 0.11, 0.07),
    "light brown": (0.50, 0.36, 0.22),
    "strawberry blonde": (0.80, 0.52, 0.32),
    "jet black": (0.03, 0.03, 0.04),
    "black": (0.06, 0.05, 0.05),
    "brown": (0.30, 0.19, 0.11),
    "brunette": (0.28, 0.17, 0.10),
    "chestnut": (0.42, 0.22, 0.11),
    "auburn": (0.50, 0.20, 0.10),
    "red": (0.62, 0.25, 0.10),
    "ginger": (0.66, 0.32, 0.12),
    "copper": (0.65, 0.33, 0.15),
    "blond": (0.85, 0.70, 0.42),
    "blonde": (0.85, 0.70, 0.42),
    "golden": (0.82, 0.63, 0.32),
    "platinum": (0.92, 0.88, 0.78),
    "grey": (0.62, 0.62, 0.62),
    "gray": (0.62, 0.62, 0.62),
    "silver": (0.76, 0.77, 0.79),
    "white": (0.92, 0.92, 0.90),
}
EYE_COLOURS: dict[str, RGB] = {
    "dark brown": (0.20, 0.12, 0.07),
    "brown": (0.36, 0.22, 0.12),
    "hazel": (0.50, 0.38, 0.18),
    "amber": (0.62, 0.42, 0.12),
    "green": (0.30, 0.48, 0.28),
    "blue": (0.28, 0.45, 0.68),
    "grey": (0.50, 0.55, 0.58),
    "gray": (0.50, 0.55, 0.58),
    "black": (0.10, 0.07, 0.05),
}
# Colour words that mean hair even without the word "hair" in the clause.
HAIR_ONLY = {
    "blond": "blond",
    "blonde": "blonde",
    "brunette": "brunette",
    "redhead": "red",
    "red-haired": "red",
    "ginger": "ginger",
    "auburn": "auburn",
    "platinum": "platinum",
    "salt-and-pepper": "salt-and-pepper",
    "grey-haired": "grey",
    "gray-haired": "gray",
    "white-haired": "white",
    "dark-haired": "dark brown",
    "fair-haired": "blond",
}
GREY: RGB = (0.62, 0.62, 0.62)
# What an unspecified feature is drawn from (repeats make a colour more likely).
RANDOM_HAIR: tuple[str, ...] = (
    "black",
    "black",
    "dark brown",
    "dark brown",
    "brown",
    "chestnut",
    "auburn",
)
RANDOM_HAIR += ("light brown", "blond", "red")
RANDOM_EYES = ("brown", "brown", "dark brown", "hazel", "green", "blue", "grey")
# Hair styles by keyword; the first rule that matches wins.
STYLE_RULES: tuple[tuple[HairStyle, tuple[str, ...]], ...] = (
    (HairStyle.BALD, ("bald", "hairless")),
    (HairStyle.SHAVED, ("shaved", "shaven", "buzz-cut", "buzz", "buzzed", "crew-cut")),
    (HairStyle.RECEDING, ("receding", "thinning", "balding")),
    (HairStyle.BUN, ("bun", "bun-tied", "ponytail", "updo", "braided", "braids", "topknot")),
    (HairStyle.LONG, ("long", "shoulder-length", "waist-length", "flowing")),
    (HairStyle.CURLY, ("curly", "curls", "afro", "coily", "twisted", "kinky", "wavy", "locs")),
    (
        HairStyle.SHORT,
        (
            "short",
            "cropped",
            "pixie-cut",
            "pixie",
            "bob",
            "slicked-back",
            "tousled",
            "shaved-side",
            "chin-length",
            "asymmetric",
        ),
    ),
)
GENDER_WORDS = {
    "feminine": ("woman", "female", "girl", "lady", "feminine", "she", "her", "mother", "wife"),
    "masculine": ("man", "male", "boy", "gentleman", "masculine", "he", "his", "father", "husband"),
}
AGE_WORDS = {
    "child": ("child", "kid", "toddler", "little"),
    "teen": ("teen", "teenager", "teens", "teenage", "adolescent"),
    "young_adult": ("young", "20s", "twenties", "student"),
    "adult": ("30s", "40s", "thirties", "forties", "middle-aged", "adult"),
    "senior": (
        "senior",
        "elderly",
        "old",
        "60s",
        "70s",
        "80s",
        "retired",
        "grandmother",
        "grandfather",
    ),
}
# Proportion cues (multipliers applied to HeadShape fields).
GENDER_SHAPE = {
    "feminine": {
        "jaw_width": 0.9,
        "chin_length": 0.95,
        "brow_thickness": 0.85,
        "lip_fullness": 1.08,
        "nose_width": 0.93,
        "neck_width": 0.88,
        "brow_height": 1.05,
        "eye_size": 1.04,
    },
    "masculine": {
        "jaw_width": 1.1,
        "chin_length": 1.05,
        "brow_thickness": 1.15,
        "lip_fullness": 0.95,
        "nose_width": 1.05,
        "neck_width": 1.1,
        "brow_height": 0.96,
        "head_width": 1.03,
    },
}
AGE_SHAPE = {
    "child": {
        "eye_size": 1.15,
        "nose_length": 0.85,
        "jaw_width": 0.88,
        "chin_length": 0.88,
        "head_height": 0.9,
        "ear_size": 0.9,
        "neck_width": 0.85,
    },
    "teen": {"eye_size": 1.05, "nose_length": 0.95, "chin_length": 0.96},
    "young_adult": {},
    "adult": {},
    "senior": {"lip_fullness": 0.88, "ear_size": 1.08, "nose_length": 1.05, "brow_thickness": 0.9},
}

#: Drawable extras (the human head draws them), phrase → feature; the longest phrase of a
#: clause wins. Facial hair kinds, glasses, jewellery and ``clothing:<kind>``.
EXTRA_WORDS: dict[str, str] = {
    "stubble": "stubble",
    "moustache": "moustache",
    "mustache": "moustache",
    "goatee": "goatee",
    "short beard": "beard_short",
    "full beard": "beard",
    "beard": "beard",
    "bearded": "beard",
    "glasses": "glasses",
    "spectacles": "glasses",
    "bifocals": "glasses",
    "earrings": "earrings",
    "earring": "earrings",
    "nose ring": "nose_ring",
    "nose stud": "nose_ring",
    "shirt": "clothing:shirt",
    "t-shirt": "clothing:shirt",
    "blouse": "clothing:shirt",
    "jacket": "clothing:jacket",
    "coat": "clothing:jacket",
    "blazer": "clothing:blazer",
    "suit": "clothing:blazer",
    "hoodie": "clothing:hoodie",
    "cardigan": "clothing:cardigan",
    "sweater": "clothing:cardigan",
    "jumper": "clothing:cardigan",
    "dress": "clothing:dress",
}
CLOTHING_KINDS = ("shirt", "jacket", "blazer", "hoodie", "cardigan", "dress")
#: Phrases the renderer reads but a bust does not show (or the head does not draw yet): the
#: vocabulary test tells them from words nobody handles.
NOT_DRAWN: tuple[str, ...] = (
    "dimples",
    "a warm smile",
    "freckles",
    "a gap-toothed grin",
    "a plaster on one knee",
    "braces",
    "headphones around the neck",
    "laugh lines",
    "deep laugh lines",
    "rosy cheeks",
)
#: Clothing colours by word; unspecified clothing takes one of ``RANDOM_CLOTHING``.
CLOTHING_COLOURS: dict[str, RGB] = {
    "denim": (0.26, 0.36, 0.55),
    "navy": (0.14, 0.18, 0.32),
    "black": (0.08, 0.08, 0.09),
    "white": (0.90, 0.90, 0.88),
    "grey": (0.50, 0.50, 0.52),
    "gray": (0.50, 0.50, 0.52),
    "red": (0.62, 0.14, 0.14),
    "green": (0.22, 0.40, 0.26),
    "blue": (0.20, 0.32, 0.62),
    "brown": (0.40, 0.28, 0.18),
    "beige": (0.78, 0.70, 0.56),
    "knitted": (0.74, 0.66, 0.52),
    "yellow": (0.85, 0.72, 0.25),
    "pink": (0.85, 0.55, 0.62),
    "purple": (0.42, 0.26, 0.52),
}
RANDOM_CLOTHING = ("navy", "grey", "denim", "green", "white", "black", "brown", "red", "beige")
METAL_COLOURS: tuple[RGB, ...] = ((0.80, 0.66, 0.30), (0.78, 0.78, 0.80), (0.15, 0.15, 0.16))
