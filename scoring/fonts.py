"""A Hangul font for every plot, from PyPI (koreanize-matplotlib ships NanumGothic), never from the host.

The package is located, not imported: importing it sets matplotlib's global rcParams, a side effect we keep out.
"""

import importlib.util
from functools import cache
from pathlib import Path

FONT_PACKAGE = "koreanize_matplotlib"
FONT_FILE = "fonts/NanumGothic.ttf"


class HangulFontMissing(RuntimeError):
    """The font package is not installed: plots would show boxes instead of account names."""


def font_path() -> Path:
    spec = importlib.util.find_spec(FONT_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise HangulFontMissing(
            f"{FONT_PACKAGE} is not installed (pip install koreanize-matplotlib): plots need its Hangul font"
        )
    path = Path(next(iter(spec.submodule_search_locations))) / FONT_FILE
    if not path.exists():
        raise HangulFontMissing(f"{path}: the Hangul font of {FONT_PACKAGE} is missing")
    return path


@cache
def hangul_font() -> str:
    """The font family name, registered with matplotlib once per process."""
    from matplotlib import font_manager

    path = font_path()
    font_manager.fontManager.addfont(str(path))
    return font_manager.FontProperties(fname=str(path)).get_name()
