"""MAM's audiobook sub-categories (main category 13), by id, as its browse form names them."""

from __future__ import annotations

AUDIOBOOK_CATEGORIES: dict[int, str] = {
    39: "Action/Adventure",
    49: "Art",
    50: "Biographical",
    83: "Business",
    51: "Computer/Internet",
    97: "Crafts",
    40: "Crime/Thriller",
    41: "Fantasy",
    106: "Food",
    42: "General Fiction",
    52: "General Non-Fic",
    98: "Historical Fiction",
    54: "History",
    55: "Home/Garden",
    43: "Horror",
    99: "Humor",
    84: "Instructional",
    44: "Juvenile",
    56: "Language",
    45: "Literary Classics",
    57: "Math/Science/Tech",
    85: "Medical",
    87: "Mystery",
    119: "Nature",
    88: "Philosophy",
    58: "Pol/Soc/Relig",
    59: "Recreation",
    46: "Romance",
    47: "Science Fiction",
    53: "Self-Help",
    89: "Travel/Adventure",
    100: "True Crime",
    108: "Urban Fantasy",
    48: "Western",
    111: "Young Adult",
}


def category_id(value: str) -> int | None:
    """The id of an audiobook category written as its id (`41`) or its name (`Fantasy`, any case)."""
    text = value.strip()
    if text.isascii() and text.isdigit():
        number = int(text)
        return number if number in AUDIOBOOK_CATEGORIES else None
    wanted = text.casefold()
    return next((i for i, name in AUDIOBOOK_CATEGORIES.items() if name.casefold() == wanted), None)
