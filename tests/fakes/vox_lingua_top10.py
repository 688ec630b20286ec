"""Fake VoxLingua107 dev set: a few segments per language in the real zip layout.

`<lang>/<youtubeid>__U__S<n>---<start>-<end>.wav`, 16 kHz, 16-bit mono, as long as the name says
(1.8-3.2 s; the real range is 1.75-19.98 s), speech-like voiced buzz with syllable-rate gating.

Full mode (under a `dev/` prefix, to show the depth of the language folders does not matter):
ru 6; ar az da et fa fi fr hy ja lv 5 each; nl 2. The top ten are ru (most clips, though late in
the alphabet) and ar..ja; lv ties with them at rank 10 but loses on its code (ja < lv), nl has
too few. Ten languages need at least five clips each to be in all five folds, and 51 random
ones would almost never be; so the names below were drawn once and each assigned a language
such that the first seed (`split_k_folds`) puts every kept language in every fold (11/10/10/10/10).

Small mode (folders at the zip root, as in the small fixture): fr 3, ru 2 and ten languages of 1
clip: the tie at rank 10 spans the ten singletons, of which ar..ja (8) are kept and lv, mk lost.
13 clips, first seed, folds of 3/3/3/2/2.

Scaled (fakes.Scale, full mode): n * 5 / 10 segments of each kept language and half as many of
lv and nl (so they are not in the top ten), each as long as the scale's clip length.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from fakes import FakeCorpus, SpotCheck, current_scale, mirror_location

from hearpreprocess.builtin.archives import seeded_rng, wav_bytes, write_zip
from hearpreprocess.config import TaskConfig

SR = 16000
FULL_PREFIX = "dev/"
# language -> clip names (without .wav)
FULL_CLIPS = {
    "ar": [
        "9x2bJ3c4Ako__U__S34---0245.320-0247.429",
        "LyKzLPt98Do__U__S39---0236.826-0239.814",
        "e-1I21VFoTQ__U__S26---0072.518-0075.166",
        "fmvO41UHbcu__U__S34---0267.270-0269.297",
        "nTmGZ3-IyAn__U__S26---0288.192-0290.192",
    ],
    "az": [
        "6zMOxIovrKr__U__S5---0228.727-0230.542",
        "IwnsazFPqBy__U__S18---0134.205-0136.278",
        "IzdrnXrkyWw__U__S8---0150.926-0153.891",
        "jE9lSKMTFL5__U__S8---0182.785-0185.543",
        "qo714aIdwfC__U__S14---0062.425-0065.589",
    ],
    "da": [
        "0oL0r5ePvPs__U__S30---0022.472-0025.234",
        "I1m3wnltc9o__U__S10---0266.520-0268.345",
        "dYgmXekMMlt__U__S7---0077.841-0080.492",
        "fRPA4afO6lE__U__S17---0230.490-0233.113",
        "nupjUmW297a__U__S39---0015.207-0017.829",
    ],
    "et": [
        "62TbqFMg63u__U__S16---0023.543-0025.619",
        "Akkiigijs0V__U__S35---0253.948-0257.064",
        "Q7oUyXLzRg1__U__S29---0183.919-0186.706",
        "Xdslolri5c-__U__S15---0157.752-0160.577",
        "tIiUudcCx9p__U__S6---0055.204-0057.473",
    ],
    "fa": [
        "9dYzxvRfMFU__U__S21---0051.055-0053.757",
        "AbJa4TCLyvb__U__S18---0280.185-0283.065",
        "FdKRDEtJe1K__U__S34---0092.978-0095.312",
        "YlXrPm5fZez__U__S1---0196.727-0198.837",
        "gfTbBmGqHE9__U__S6---0233.412-0235.790",
    ],
    "fi": [
        "70gzPkwENXc__U__S11---0084.924-0087.749",
        "FhjFvSQ3U80__U__S36---0140.279-0143.194",
        "SDZ1tdqnrs0__U__S22---0239.690-0241.953",
        "q6mEG4ZYYHH__U__S36---0064.032-0066.113",
        "w855k8epMRe__U__S32---0231.980-0235.077",
    ],
    "fr": [
        "4tssTuRZZuX__U__S37---0142.041-0143.943",
        "Wez76zrw29r__U__S30---0051.497-0053.832",
        "j3AEC0s19Cg__U__S37---0297.707-0300.648",
        "loNKBCuTY20__U__S25---0021.634-0024.162",
        "pYUpD-R--Kw__U__S6---0138.572-0141.422",
    ],
    "hy": [
        "17GSxXhABWj__U__S36---0226.402-0228.831",
        "6pgdWLiRFX3__U__S16---0076.795-0079.196",
        "CQAm5kMLLud__U__S34---0218.022-0221.027",
        "D7JOLzyBH07__U__S20---0272.646-0275.463",
        "kqPXiAMnDls__U__S4---0287.202-0289.510",
    ],
    "ja": [
        "EJ3yVmA0uuC__U__S9---0278.196-0281.181",
        "FCw3ivXQTrI__U__S39---0118.501-0121.403",
        "Qm2AtqYU49Y__U__S14---0112.809-0115.532",
        "mcCPVsPFBGk__U__S5---0163.633-0165.553",
        "zNA3HL9XhDL__U__S30---0159.453-0161.548",
    ],
    "ru": [
        "CawEz6gxWZH__U__S34---0133.893-0136.491",
        "iDpsPtjg5sb__U__S33---0081.282-0083.368",
        "jJBEdJbyQBD__U__S34---0269.796-0271.933",
        "pRj489boWIM__U__S12---0044.668-0047.101",
        "qsa5u3PZwSf__U__S15---0168.251-0170.053",
        "xRWkF0absTV__U__S31---0212.573-0215.354",
    ],
    "lv": [
        "7tvI-xUfoc3__U__S6---0084.163-0086.950",
        "Dtd8BlC88nl__U__S4---0234.413-0237.221",
        "SfC59PZc2bR__U__S12---0289.250-0291.863",
        "gqGBqQrUZDP__U__S27---0000.151-0002.192",
        "ydLhXFMxBg0__U__S39---0081.572-0084.453",
    ],
    "nl": [
        "EY5P8GQBFLt__U__S29---0035.203-0037.156",
        "flYhN9z0-uI__U__S4---0103.534-0105.700",
    ],
}

SMALL_CLIPS = {
    "fr": [
        "154M2joqpgK__U__S38---0031.645-0034.155",
        "adMGJfwL11D__U__S4---0079.574-0081.989",
        "wps24g8gP-Q__U__S26---0151.387-0153.740",
    ],
    "ru": [
        "EDIC1XeDyx-__U__S23---0076.301-0078.199",
        "bAiTrcYAmc9__U__S8---0152.198-0154.724",
    ],
    "ar": [
        "r50eaGjiTBe__U__S26---0002.944-0004.943",
    ],
    "az": [
        "cnRFAGZ9tWc__U__S23---0182.374-0184.890",
    ],
    "da": [
        "5kVqVs8vlQz__U__S38---0075.200-0077.811",
    ],
    "et": [
        "Dt74tRVqq1Y__U__S6---0277.540-0280.190",
    ],
    "fa": [
        "ImXURNCtqd3__U__S4---0215.579-0217.763",
    ],
    "fi": [
        "A3G57bHE5gS__U__S11---0069.151-0071.477",
    ],
    "hy": [
        "xHPDkQXfbQL__U__S11---0268.198-0270.771",
    ],
    "ja": [
        "0SaC7vlEvEz__U__S2---0176.520-0179.705",
    ],
    "lv": [
        "Ev2vXndLat7__U__S2---0161.404-0163.685",
    ],
    "mk": [
        "sV3pY5ouezF__U__S15---0178.155-0181.050",
    ],
}


FULL_KEPT = ("ar", "az", "da", "et", "fa", "fi", "fr", "hy", "ja", "ru")
SMALL_KEPT = ("fr", "ru", "ar", "az", "da", "et", "fa", "fi", "hy", "ja")


def SCALABLE(config: TaskConfig) -> bool:
    return not config.is_small


def scaled_clips(per_language: int, seconds: float) -> dict[str, list[str]]:
    """`per_language` segment names of each kept language, half as many of lv and nl."""
    out = {}
    for lang in (*FULL_KEPT, "lv", "nl"):
        count = per_language if lang in FULL_KEPT else per_language // 2
        names = []
        for i in range(count):
            video = seeded_rng(f"vox-{lang}-{i}").bytes(6).hex()[:11]
            start = 10.0 + 25.0 * (i % 11)
            names.append(f"{video}__U__S{i}---{start:08.3f}-{start + seconds:08.3f}")
        out[lang] = names
    return out


def make_fake_corpus(mirror_root: Path, config: TaskConfig) -> FakeCorpus:
    """Write the fake dev.zip (or small zip) for every source of `config` under `mirror_root`."""
    clips, prefix = (SMALL_CLIPS, "") if config.is_small else (FULL_CLIPS, FULL_PREFIX)
    scale = current_scale()
    if scale is not None:
        per_language = scale.per_group(len(FULL_KEPT), len(config.splits))
        clips = scaled_clips(per_language, scale.seconds(18.64))
    members = {
        f"{prefix}{lang}/{name}.wav": wav_bytes(_speech(name), SR)
        for lang, names in sorted(clips.items())
        for name in names
    }
    md5 = {s.url: write_zip(mirror_location(mirror_root, s.url), members) for s in config.sources}
    if scale is not None:
        return FakeCorpus(md5=md5, labels=set(FULL_KEPT))
    if config.is_small:
        labels, counts = set(SMALL_KEPT), dict(zip(config.splits, (3, 3, 3, 2, 2)))
        checks = [
            SpotCheck("154M2joqpgK__U__S38---0031.645-0034.155", "fold00", ("fr",)),
            SpotCheck("0SaC7vlEvEz__U__S2---0176.520-0179.705", "fold03", ("ja",)),
            SpotCheck("r50eaGjiTBe__U__S26---0002.944-0004.943", "fold04", ("ar",)),
        ]
    else:
        labels, counts = set(FULL_KEPT), dict(zip(config.splits, (11, 10, 10, 10, 10)))
        checks = [
            SpotCheck("CawEz6gxWZH__U__S34---0133.893-0136.491", "fold00", ("ru",)),
            SpotCheck("EJ3yVmA0uuC__U__S9---0278.196-0281.181", "fold00", ("ja",)),
            SpotCheck("4tssTuRZZuX__U__S37---0142.041-0143.943", "fold02", ("fr",)),
        ]
    return FakeCorpus(md5=md5, split_counts=counts, labels=labels, spot_checks=checks)


def _speech(name: str) -> np.ndarray:
    """Voiced buzz with a drifting pitch, gated at a syllable rate, as long as the name says."""
    start, end = (float(x) for x in name.rsplit("---", 1)[1].split("-"))
    rng = seeded_rng(name)
    t = np.arange(round((end - start) * SR)) / SR
    f0 = rng.uniform(90, 250) * (1 + 0.1 * np.sin(2 * np.pi * rng.uniform(0.3, 1.0) * t))
    phase = 2 * np.pi * np.cumsum(f0) / SR
    voice = sum(np.sin(h * phase) / h for h in range(1, 8))
    gate = np.clip(np.sin(2 * np.pi * rng.uniform(3, 5) * t), 0, None)
    return 0.2 * gate * voice + rng.normal(0, 0.003, t.size)
