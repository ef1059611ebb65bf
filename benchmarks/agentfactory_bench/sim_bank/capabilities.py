"""The capabilities the simulated model knows: triggers, input reading and answer phrasing per family.

Everything here reads task texts the way a model would (file names, URLs, column names in the usual
phrasings); nothing refers to a particular suite's tasks, ids or entities.
"""

from __future__ import annotations

import calendar
import re
from pathlib import PurePosixPath
from typing import Any

from agentfactory_bench.sim_bank.bank import Capability
from agentfactory_bench.sim_bank.reading import (
    NUMBER_WORDS,
    count_word,
    entity_from_file,
    find_input,
    named_inputs,
    new_output,
    output_path,
    urls,
)

_IDENT = r"[`'\"]?([A-Za-z_][\w]*)[`'\"]?"
_TABLES = "csv|tsv|tab|txt"  # delimited text files a table may come in
_STOP = {"the", "a", "an", "data", "it", "this", "that", "them", "of", "and", "file", "values", "column"}


def _stem(path: str) -> str:
    return PurePosixPath(path).stem


# ---- price series ----------------------------------------------------------------------------------


def price_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    if len(named_inputs(text, files, _TABLES + "|json")) > 1:
        return None  # one series per subagent run: comparing files is another task
    csv = find_input(text, files, _TABLES + "|json")
    if csv is None:
        return None
    low = text.lower()
    explicit = (
        re.search(
            r"(\d{1,3})\s+(?:(?:trading|calendar|business)\s+)?(?:periods|days|weeks|months)\s+"
            r"(?:a|per|each|in\s+a|in\s+the)\s+year",
            low,
        )
        or re.search(
            r"(?:annuali[sz]e|scale)\w*\s+(?:\w+\s+){0,3}?(?:by|with|using)\s+(?:sqrt\()?(\d{1,3})\b", low
        )
        or re.search(r"annuali[sz]ed?\b[^.?!]{0,40}?\(\s*(\d{1,3})\s+(?:periods|days|weeks|months)\s*\)", low)
    )
    if explicit:
        periods = int(explicit.group(1))
    elif re.search(r"(?<![a-z])weekly(?![a-z])|\bper week\b|\bweek(?:ly)? (?:returns|closes|prices)", low):
        periods = 52  # "weekly" also in a file name (initech_weekly.csv)
    elif re.search(r"(?<![a-z])monthly(?![a-z])|\bper month\b", low):
        periods = 12
    else:
        periods = 252
    chart = new_output(text, files, "png") or output_path(f"{_stem(csv)}_chart.png")
    inputs: dict[str, Any] = {"csv_path": csv, "periods_per_year": periods, "chart_path": chart}
    column = re.search(r"[`'\"]([^`'\"]{1,40})[`'\"]\s+column|column\s+[`'\"]([^`'\"]{1,40})[`'\"]", text)
    if column:
        inputs["price_column"] = column.group(1) or column.group(2)
    else:
        hints = _ticker_words(text)
        if hints:
            inputs["hint_columns"] = hints
    return inputs | _period(text)


_MONTHS = [
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
]
_MONTH = r"(jan|feb|mar|apr|may|jun|jul|aug|sep|oct|nov|dec)[a-z]*\.?"
_DATE = (
    rf"(?:(\d{{4}})-(\d{{1,2}})-(\d{{1,2}})|(\d{{1,2}})(?:st|nd|rd|th)?\s+{_MONTH},?\s+(\d{{4}})|"
    rf"{_MONTH}\s+(\d{{1,2}})(?:st|nd|rd|th)?,?\s+(\d{{4}})|{_MONTH}\s+(\d{{4}}))"
)


def _iso(m: re.Match, end: bool = False) -> str:
    """An ISO date from a _DATE match; a month alone means its first day (or its last, for an end)."""
    g = m.groups()
    if g[0]:
        year, month, day = int(g[0]), int(g[1]), int(g[2])
    elif g[4]:
        year, month, day = int(g[5]), _month_number(g[4]), int(g[3])
    elif g[6]:
        year, month, day = int(g[8]), _month_number(g[6]), int(g[7])
    else:
        year, month, day = int(g[10]), _month_number(g[9]), 0
        day = _month_end(year, month) if end else 1
    return f"{year:04d}-{month:02d}-{day:02d}"


def _month_number(word: str) -> int:
    return next(i for i, m in enumerate(_MONTHS, 1) if m.startswith(word.lower()[:3]))


def _month_end(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _period(text: str) -> dict[str, Any]:
    """The part of the series the task asks about: start/end dates or a trailing window."""
    low = text.lower()
    out: dict[str, Any] = {}
    start = re.search(rf"\b(?:from|since|starting(?:\s+(?:on|in|from))?|beginning|after)\s+{_DATE}", low)
    end = re.search(rf"\b(?:to|until|till|through|up\s+to|ending(?:\s+on)?|before)\s+{_DATE}", low)
    between = re.search(rf"\bbetween\s+{_DATE}\s+and\s+{_DATE}", low)
    if between:
        first, second = re.finditer(_DATE, between.group(0))
        return {"start": _iso(first), "end": _iso(second, end=True)}
    if start:
        out["start"] = _iso(start)
    if end:
        out["end"] = _iso(end, end=True)
    half = re.search(r"\b(first|second)\s+half\s+of\s+(?:the\s+year\s+)?(\d{4})", low)
    quarter = re.search(r"\b(?:q([1-4])|(first|second|third|fourth)\s+quarter)(?:\s+of)?\s+(\d{4})", low)
    if not out and half:
        year, first = int(half.group(2)), half.group(1) == "first"
        out = {
            "start": f"{year}-{'01' if first else '07'}-01",
            "end": f"{year}-{'06-30' if first else '12-31'}",
        }
    elif not out and quarter:
        q = int(quarter.group(1) or ["first", "second", "third", "fourth"].index(quarter.group(2)) + 1)
        year = int(quarter.group(3))
        out = {
            "start": f"{year}-{3 * q - 2:02d}-01",
            "end": f"{year}-{3 * q:02d}-{_month_end(year, 3 * q):02d}",
        }
    # A year or trailing window in the sentence that names the file describes the file, not the ask.
    sentences = re.split(r"(?<=[.!?])\s+", low)
    asked = " ".join(x for x in sentences if not re.search(r"\w\.(?:csv|tsv|tab|txt|json)\b", x))
    year = re.search(
        r"\b(?:in|for|during|over|throughout)\s+(?:the\s+(?:year|whole\s+of)\s+)?(\d{4})\b", asked
    )
    if not out and year and 1900 < int(year.group(1)) < 2200:
        out = {"start": f"{year.group(1)}-01-01", "end": f"{year.group(1)}-12-31"}
    window = re.search(
        r"\b(?:last|past|final|trailing|most\s+recent)\s+(\d{1,3}|\w+)\s+(day|week|month|year)s?\b", asked
    )
    if window:
        n = NUMBER_WORDS.get(window.group(1), None) if not window.group(1).isdigit() else int(window.group(1))
        if n:
            out["last"] = f"{n}{window.group(2)[0].upper()}"
    return out


# Capitalised words a price task names that are not a ticker or column.
_NOT_TICKERS = {"CSV", "TSV", "JSON", "PNG", "SVG", "PDF", "API", "URL", "USD", "EUR", "GBP", "JPY", "CHF"}
_NOT_TICKERS |= {
    "Q1",
    "Q2",
    "Q3",
    "Q4",
    "H1",
    "H2",
    "FY",
    "YTD",
    "ETF",
    "NAV",
    "OHLC",
    "OHLCV",
    "CEO",
    "IPO",
    "UTC",
    "GMT",
    "AM",
    "PM",
    "ID",
    "I",
    "A",
    "OK",
}


def _ticker_words(text: str) -> list[str]:
    """Ticker-like words ("MSFT", "BRK.B") the task names: the column to prefer in a wide file."""
    words = re.findall(r"(?<![\w/.$-])([A-Z][A-Z0-9]{1,5}(?:\.[A-Z])?)(?![\w/-])", text)
    return list(dict.fromkeys(w for w in words if w not in _NOT_TICKERS))


def price_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    name = entity_from_file(inputs["csv_path"]).upper()
    per = {252: "daily", 52: "weekly", 12: "monthly"}.get(
        int(inputs.get("periods_per_year", 252)), "periodic"
    )
    vol, total = result["volatility"], result["total_return"]
    return (
        f"Annualised volatility of {name}: {vol:.2%} ({vol:.4f}), from {result['n_returns']} {per} log "
        f"returns of '{result['price_column']}' between {result['start']} and {result['end']}, annualised "
        f"with {inputs.get('periods_per_year', 252)} periods a year. Total return over the period: "
        f"{total:.2%} ({result['first_price']:g} to {result['last_price']:g}). "
        f"Chart saved to {result['chart']}."
    )


PRICE = Capability(
    name="price-volatility",
    description=(
        "Annualised volatility, total return and a line chart of a price series in a CSV file (stocks, "
        "funds, indices, crypto; daily, weekly or monthly data). Use for risk or performance questions "
        "about one series of prices."
    ),
    strong=(
        "volatil",
        "annualised",
        "annualized",
        "stock price",
        "closing price",
        "share price",
        r"vol\b",
        "std dev",
        "standard deviation of",
    ),
    triggers=(
        "price",
        "prices",
        "return",
        "closes",
        "closing",
        "stock",
        "chart",
        "plot",
        "csv",
        "daily",
        "weekly",
        "ticker",
        "risk",
    ),
    tools=(),
    module="price_volatility",
    extract_inputs=price_inputs,
    answer=price_answer,
    inputs_schema={
        "type": "object",
        "required": ["csv_path"],
        "properties": {
            "csv_path": {"type": "string"},
            "periods_per_year": {"type": "integer"},
            "chart_path": {"type": "string"},
            "price_column": {"type": ["string", "null"]},
            "hint_columns": {"type": ["array", "null"], "items": {"type": "string"}},
            "start": {"type": ["string", "null"]},
            "end": {"type": ["string", "null"]},
            "last": {"type": ["string", "null"]},
            "title": {"type": ["string", "null"]},
        },
    },
    buggy_edits=(("price_col = _pick_price_column(df, price_column)", 'price_col = "close"'),),
    bug="assumes the price column is called 'close' (KeyError on 'Close' or 'Adj Close')",
    excludes=("forecast", "garch", "option pric", "black-scholes", "value at risk"),
)


# ---- regression ------------------------------------------------------------------------------------

# (pattern, order): order "yx" when the first group is the response, "xy" when it is the explanatory.
_REGRESSION_PATTERNS = [
    (rf"(?:regression|ols|fit|model)\s+of\s+{_IDENT}\s+(?:on|against|versus|vs\.?)\s+{_IDENT}", "yx"),
    (rf"regress(?:es|ing)?\s+{_IDENT}\s+(?:on|against)\s+{_IDENT}", "yx"),
    (rf"{_IDENT}\s+depends?\s+on\s+{_IDENT}", "yx"),
    (rf"model\s+{_IDENT}\s+as\s+(?:a\s+)?(?:linear\s+)?function\s+of\s+{_IDENT}", "yx"),
    (rf"predict\s+{_IDENT}\s+(?:from|using|with)\s+{_IDENT}", "yx"),
    (rf"(?:effect|impact|influence)\s+of\s+{_IDENT}\s+on\s+{_IDENT}", "xy"),
    (rf"(?:relationship|relation|correlation)\s+between\s+{_IDENT}\s+and\s+{_IDENT}", "xy"),
    (rf"{_IDENT}\s+as\s+a\s+(?:linear\s+)?function\s+of\s+{_IDENT}", "yx"),
    (rf"{_IDENT}\s+(?:relates?|is\s+related|correlates?|is\s+correlated)\s+(?:to|with)\s+{_IDENT}", "yx"),
    (rf"{_IDENT}\s+(?:go(?:es)?\s+(?:up|down)|rises?|falls?|grows?)\s+(?:with|as)\s+{_IDENT}", "yx"),
    (
        rf"{_IDENT}\s+(?:changes?|var(?:y|ies)|increases?|decreases?|grows?|moves?|scales?|responds?)\s+"
        rf"(?:with|to|along\s+with)\s+{_IDENT}",
        "yx",
    ),
    (rf"{_IDENT}\s+(?:vs\.?|versus|against)\s+{_IDENT}", "yx"),
]
# A column named by its role: "salary as the dependent variable", "the predictor is age".
_ROLE_Y = r"dependent|response|target|outcome|explained"
_ROLE_X = r"predictor|independent|explanatory|regressor|input|feature"
_ROLE_WORDS = {"dependent", "response", "target", "outcome", "explained", "variable", "predictor"}
_ROLE_WORDS |= {"independent", "explanatory", "regressor", "input", "feature", "is", "as"}
# Words that end a phrase glossed by a column name in brackets: "fuel economy (mpg)" -> "mpg".
_GLOSS_STOP = _STOP | {"how", "does", "do", "is", "are", "with", "on", "between", "in", "for", "to"}
_GLOSS_STOP |= {"change", "changes", "vary", "varies", "predict", "regress", "fit", "plot", "against"}
_UNITS = {"kg", "g", "lb", "lbs", "cm", "mm", "m", "km", "ft", "in", "l", "ml", "s", "ms", "h", "min"}
_UNITS |= {"usd", "eur", "gbp", "c", "f", "k", "mph", "kmh", "sqft", "m2", "pct", "percent", "years"}


def _role(text: str, roles: str) -> str | None:
    for pattern in (
        rf"{_IDENT}\s+(?:is\s+|as\s+)?(?:the\s+|our\s+|a\s+)?(?:{roles})\b",
        rf"\b(?:{roles})(?:\s+variable)?\s+(?:is\s+|=\s*|:\s*)?{_IDENT}",
    ):
        for m in re.finditer(pattern, text, re.I):
            if m.group(1).lower() not in _STOP | _ROLE_WORDS:
                return m.group(1)
    return None


def _unglossed(text: str) -> str:
    """Replace a phrase glossed by a column name in brackets with the name: "engine size
    (engine_size_l) in cars.csv" -> "engine_size_l in cars.csv". A unit in brackets is dropped."""

    def swap(m: re.Match) -> str:
        if m.group(2).lower() in _UNITS:
            return m.group(1).rstrip()
        words = m.group(1).split()
        for _ in range(4):
            if not words or words[-1].lower() in _GLOSS_STOP:
                break
            words.pop()
        return " ".join([*words, m.group(2)])

    return re.sub(r"((?:[\w-]+\s+){1,6})\(\s*[`'\"]?([A-Za-z_]\w*)[`'\"]?\s*\)", swap, text)


def regression_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    csv = find_input(text, files, _TABLES)
    if csv is None or re.search(
        rf"\b(?:on|against|from|using)\s+{_IDENT},\s*{_IDENT},?\s+and\s+{_IDENT}", text
    ):
        return None  # three or more predictors: a multiple regression, not a straight line
    extra = _predict_at(text)
    inputs = regression_xy(text, files, csv)
    return inputs | extra if inputs is not None else None


def _predict_at(text: str) -> dict[str, Any]:
    """x values to predict at: "what revenue it predicts when online spend is 50", "at x = 3"."""
    m = re.search(
        r"\bpredict\w*\b[^.?!]{0,80}?\b(?:when|if|at|for)\b[^.?!\d]{0,40}?(?:is|=|of|equals)?\s*"
        r"(-?\d+(?:\.\d+)?)",
        text,
        re.I,
    ) or re.search(r"\bpredict\w*\s+(?:\w+\s+){0,4}?(?:at|for)\s+(?:x\s*=\s*)?(-?\d+(?:\.\d+)?)", text, re.I)
    return {"predict_at": float(m.group(1))} if m else {}


def regression_xy(text: str, files: list[str], csv: str) -> dict[str, Any] | None:
    text = _unglossed(text)
    y, x = _role(text, _ROLE_Y), _role(text, _ROLE_X)
    # "y = a + b*x where y is crop_yield and x is rainfall_mm"
    named = {
        v: next(
            (m.group(1) for m in re.finditer(rf"\b{v}\s+(?:is|=|:)\s+{_IDENT}", text) if len(m.group(1)) > 1),
            None,
        )
        for v in "yx"
    }
    if not (x and y) and named["x"] and named["y"]:
        y, x = named["y"], named["x"]
    chart = new_output(text, files, "png") or output_path(f"{_stem(csv)}_scatter.png")
    if x and y:
        return {"csv_path": csv, "x": x, "y": y, "chart_path": chart}
    phrases = _regression_phrases(text)
    if phrases:
        y_phrase, x_phrase = phrases
        said_y = _role_phrase(text, _ROLE_Y)
        if said_y and _same_name(said_y, x_phrase):  # "relationship between A and B; B is the response"
            y_phrase, x_phrase = x_phrase, y_phrase
        return {"csv_path": csv, "x": x_phrase, "y": y_phrase, "chart_path": chart}
    x = y = None
    for pattern, order in _REGRESSION_PATTERNS:
        for m in re.finditer(pattern, text, re.I):
            a, b = m.group(1), m.group(2)
            if a.lower() in _STOP or b.lower() in _STOP:
                continue
            y, x = (a, b) if order == "yx" else (b, a)
            break
        if x:
            break
    return {"csv_path": csv, "x": x, "y": y, "chart_path": chart}


# Column names of several words ("Monthly Sales ($k)") in the phrasings that delimit them clearly.
_PHRASE = r"[`'\"]?([A-Za-z][\w$%()/&' -]{0,48}?)[`'\"]?"
_PHRASE_END = (
    r"(?=\s*(?:\b(?:using|in|from|with|for|and\s+(?:then\s+)?(?:plot|save|report|give|make|draw|say|tell|show|"
    r"write|compute|list|chart|predict|estimate|find|state))\b|[.,;:?!]|$))"
)
_REGRESSION_PHRASES = [
    (rf"\bregress(?:es|ing)?\s+{_PHRASE}\s+(?:on|against)\s+{_PHRASE}{_PHRASE_END}", "yx"),
    (rf"\bregression\s+of\s+{_PHRASE}\s+(?:on|against)\s+{_PHRASE}{_PHRASE_END}", "yx"),
    (
        rf"\b(?:relationship|relation|correlation|association)\s+between\s+{_PHRASE}\s+and\s+{_PHRASE}{_PHRASE_END}",
        "xy",
    ),
    (
        rf"\b(?:plot|chart|graph|scatter)\s+{_PHRASE}\s+(?:vs\.?|versus|against)\s+{_PHRASE}{_PHRASE_END}",
        "yx",
    ),
    (rf"\bpredict\s+{_PHRASE}\s+(?:from|using|with|based\s+on)\s+{_PHRASE}{_PHRASE_END}", "yx"),
]
_LEADING = {"the", "a", "an", "their", "its", "treat", "use", "take", "set", "with", "using", "and"}


def _clean_phrase(phrase: str) -> str | None:
    phrase = re.sub(r"\s*\([^)]*\s[^)]*\)", "", phrase)  # an aside in brackets, not a unit like ($k)
    words = phrase.strip(" `'\"").split()
    while words and words[0].lower() in _LEADING:
        words.pop(0)
    if not 1 <= len(words) <= 5 or re.search(r"\.\w{2,4}\b", phrase):
        return None
    name = " ".join(words)
    return None if name.lower() in _STOP else name


def _regression_phrases(text: str) -> tuple[str, str] | None:
    """(y, x) when a phrasing delimits both names, however many words each has."""
    for pattern, order in _REGRESSION_PHRASES:
        for m in re.finditer(pattern, text, re.I):
            a, b = _clean_phrase(m.group(1)), _clean_phrase(m.group(2))
            if a and b:
                return (a, b) if order == "yx" else (b, a)
    return None


def _role_phrase(text: str, roles: str) -> str | None:
    m = re.search(rf"{_PHRASE}\s+(?:is\s+|as\s+)(?:the\s+|our\s+)?(?:{roles})\b", text, re.I)
    return _clean_phrase(m.group(1).split(".")[-1].split("?")[-1]) if m else None


def _same_name(a: str, b: str) -> bool:
    def norm(name: str) -> str:
        return re.sub(r"[^a-z0-9]", "", name.lower())

    return norm(a) == norm(b)


def regression_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    dropped = result.get("dropped", 0)
    note = f", {dropped} rows with missing values dropped" if dropped else ""
    return (
        f"Linear regression of {result['y']} on {result['x']} (n = {result['n']}{note}): "
        f"slope = {result['slope']:.4f}, intercept = {result['intercept']:.4f}, "
        f"R² = {result['r_squared']:.4f}. Each unit of {result['x']} goes with {result['slope']:.4f} more "
        f"{result['y']}. Scatter plot with the fitted line: {result['chart']}."
    )


REGRESSION = Capability(
    name="linear-regression",
    description=(
        "Fits a straight line (ordinary least squares) between two numeric columns of a CSV file and "
        "plots a scatter chart with the fitted line; reports slope, intercept and R². Use when a task "
        "asks how one variable depends on another."
    ),
    strong=(
        "regress",
        "scatter",
        "slope",
        "r-squared",
        "r²",
        "r^2",
        "linear fit",
        "line of best fit",
        "correlation",
        "straight line",
        "linear function",
        "intercept",
        "least squares",
        r"ols\b",
        "go up with",
        "goes up with",
        "rise with",
        "rises with",
        r"r2\b",
        "trendline",
        "trend line",
        "coefficient",
        "least-squares",
        "fit a line",
        "fitted line",
        "best-fit line",
    ),
    triggers=("linear", "depend", "relationship", "fit", "plot", "predict", "csv", "variable", "model"),
    tools=(),
    module="linear_regression",
    extract_inputs=regression_inputs,
    answer=regression_answer,
    inputs_schema={
        "type": "object",
        "required": ["csv_path"],
        "properties": {
            "csv_path": {"type": "string"},
            "x": {"type": ["string", "null"]},
            "y": {"type": ["string", "null"]},
            "chart_path": {"type": "string"},
            "predict_at": {"type": ["number", "array", "null"]},
        },
    },
    buggy_edits=(("clean = data.dropna()", "clean = data"),),
    bug="does not drop rows with missing values (least squares fails on NaN)",
    excludes=(
        "logistic",
        "polynomial",
        "quadratic",
        "multiple regression",
        "multiple linear",
        "multivariate",
        "multivariable",
        "several predictors",
        "each predictor",
        "exponential fit",
    ),
)


# ---- list of items and links from a page -------------------------------------------------------------


def page_list_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    found = urls(text)
    if not found:
        return None
    out = new_output(text, files, "md|markdown") or "outputs/items.md"
    return {"url": found[0], "output_path": out}


def page_list_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    # A long item list reaches the model only as a cut preview; the file holds all of it.
    items = result.get("items") or []
    lines = [
        f"- {i['name']}: {i['url']}" for i in items if isinstance(i, dict) and "name" in i and "url" in i
    ]
    head = (
        f'Found {result["count"]} items on "{result.get("title", inputs["url"])}" and wrote them as a markdown '
        f"list with links to {result.get('output_path', inputs['output_path'])}"
    )
    return head + (":\n" + "\n".join(lines) if lines else ".")


PAGE_LIST = Capability(
    name="page-links-to-markdown",
    description=(
        "Fetches a web page and extracts its main list of items (courses, projects, members, products) "
        "with their links into a markdown list. Use to turn a catalogue or directory page into markdown."
    ),
    strong=(
        "links",
        "list of",
        "extract",
        "markdown list",
        "directory",
        "listed",
        "with its link",
        "with a link",
        "as a link",
        "linked to",
        "hyperlink",
        "list every",
        "list all",
        "lists every",
        "lists all",
        "list each",
        "with urls",
        "with their urls",
        "name and url",
        "grab",
        "harvest",
        "scrape",
    ),
    triggers=(
        "page",
        "course",
        "module",
        "project",
        "member",
        "organisation",
        "organization",
        "markdown",
        "catalogue",
        "catalog",
        "list",
        "http",
        "item",
        "name",
    ),
    tools=("web_fetch",),
    module="page_list_to_markdown",
    extract_inputs=page_list_inputs,
    answer=page_list_answer,
    inputs_schema={
        "type": "object",
        "required": ["url"],
        "properties": {"url": {"type": "string"}, "output_path": {"type": "string"}},
    },
    excludes=(
        "broken",
        "dead link",
        "status code",
        "http error",
        "404",
        "check which",
        "check whether",
        "check if",
        "validate the links",
        "response time",
        "uptime",
        "external",
        "another domain",
        "other domain",
        "how many links",
        "point to",
        "points to",
        "paginat",
        "next link",
        "follow next",
        "follow the next",
    ),
)


# ---- search, read, summarise (a chain of two) ---------------------------------------------------------

_END = (
    r"(?=\s*(?:[,.;:!?(]|\band\b|\bthen\b|\bwith\b|\bto\b|$|"
    r"\b(?:in|into|as)\s+[\w/-]+\.(?:md|markdown|txt|html)\b))"
)
_QUERY_PATTERNS = [
    r"\bsearch(?:\s+the\s+web|\s+online)?\s+for\s+(?:(?:recent|the\s+latest|latest|some|current)\s+)?"
    r"(?:(?:information|news|articles|material|sources|facts)\s+)?(?:on\s+|about\s+|regarding\s+)?"
    r"(?P<q>[^,.;:!?]+?)" + _END,
    r"\bresearch(?:\s+on|\s+about|\s+into)?\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\b(?:report|summary|overview|briefing|brief|memo|write-?up|digest|review)"
    r"(?:\s+(?:note|paper|document|report))?(?:\s*,[^,.;:!?]{1,30},)?\s+(?:on|about|of|regarding)\s+"
    r"(?P<q>[^,.;:!?]+?)" + _END,
    r"\bwhat\s+(?:are|is|were)\s+(?:the\s+)?(?:main\s+|key\s+)?(?:pros\s+and\s+cons|benefits|risks|"
    r"advantages|disadvantages|effects|impacts?|causes|consequences|arguments|facts)\s+(?:of|about|on|for)\s+"
    r"(?P<q>[^,.;:!?]+?)" + _END,
    r"\bsearch(?:\s+the\s+web|\s+online)?\s+(?:on|about)\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\bwhat\s+(?:does|do|did)\s+(?:the\s+)?(?:(?:recent|latest|current|scientific|new)\s+)?"
    r"(?:evidence|research|science|literature|studies|experts?|data|sources)\s+(?:say|show|tell\s+us|suggest)"
    r"\s+(?:about|on|regarding)\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\b(?:look\s+up|find|gather|collect|read|dig\s+up)\s+(?:(?:a|few|some|several|good|recent|reliable|"
    r"\w+)\s+){0,6}(?:sources|articles|papers|pages|information|studies)\s+(?:on|about|regarding|covering)"
    r"\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\blook\s+up\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\blook\s+into\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\btell\s+me\s+(?:all\s+|more\s+)?(?:about|on)\s+(?P<q>[^,.;:!?]+?)" + _END,
    r"\b(?:sources|articles|experts|studies|papers|researchers|scientists)\s+(?:say|said|report|found)\s+"
    r"(?:about|on|regarding)\s+(?P<q>[^,.;:!?]+?)" + _END,
    # A question the report answers: "How are EV batteries recycled? Search the web, read ..."
    r"(?:^|[.!?]\s+)(?:how|what|why|which|when|where|who|is|are|does|do|can|should)\s+(?P<q>[^.;!?]{6,120}?)\?",
]


_GENERIC_QUERY = {"few", "some", "several", "articles", "sources", "pages", "information", "papers", "it"}


def _query(text: str) -> str | None:
    for pattern in _QUERY_PATTERNS:
        m = re.search(pattern, text, re.I)
        if m:
            q = re.sub(r"^(?:the|a|an)\s+", "", m.group("q").strip(), flags=re.I)
            q = re.sub(
                r"^(?:how\s+(?:well|much|many|far|often)|whether|if|are|is|do|does|did|can|could|should|will)\s+"
                r"(?:(?:known|understood|happening|new|the\s+latest)\s+(?:about|on|with|in)\s+)?",
                "",
                q,
                flags=re.I,
            )
            if len(q) >= 3 and not set(q.lower().split()) <= _STOP | _GENERIC_QUERY:
                return q
    return None


def research_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    query = _query(text)
    if query is None:
        return None
    return {"query": query, "k": count_word(text, 3), "sources_path": "outputs/sources.json"}


def research_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    lines = [f"- {s['title']}: {s['url']}" for s in result["sources"]]
    return f"Read {result['count']} sources on {result['query']}:\n" + "\n".join(lines)


def report_from_research(
    result: dict[str, Any], inputs: dict[str, Any], text: str, files: list[str]
) -> dict[str, Any]:
    report = new_output(text, files, "md|markdown") or "outputs/report.md"
    query = inputs["query"]
    return {
        "title": f"Report: {query[:1].upper() + query[1:]}",
        "report_path": report,
        "sources_path": result["sources_path"],
    }


def report_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    sources = find_input(text, files, "json")
    report = new_output(text, files, "md|markdown")
    if sources is None or report is None:
        return None
    return {"title": f"Report on {_stem(sources)}", "report_path": report, "sources_path": sources}


def report_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    return (
        f"Wrote the markdown report {result['report_path']} ({result['title']}), summarising and citing "
        f"{result['sources']} sources."
        # The summary is the long field: a cut preview may not show it; the report file holds it.
        + (f"\n\nSummary: {result['summary']}" if result.get("summary") else "")
    )


RESEARCH = Capability(
    name="web-research",
    description=(
        "Searches the web for a topic, fetches the top results and saves their text as a JSON list of "
        "sources (title, url, text). Use as the gathering step before summarising or reporting."
    ),
    strong=(
        "search",
        "research",
        "look up",
        "find sources",
        "find articles",
        "sources",
        "briefing",
        "cite",
        "citation",
        "references",
    ),
    triggers=(
        "web",
        "sources",
        "read",
        "summar",
        "report",
        "articles",
        "information",
        "relevant",
        "top",
        "cite",
        "markdown",
        "brief",
        "digest",
        "write-up",
    ),
    tools=("web_search", "web_fetch"),
    module="web_research",
    extract_inputs=research_inputs,
    answer=research_answer,
    inputs_schema={
        "type": "object",
        "required": ["query"],
        "properties": {
            "query": {"type": "string"},
            "k": {"type": "integer"},
            "sources_path": {"type": "string"},
        },
    },
    then="markdown-report",
    next_inputs=report_from_research,
)

REPORT = Capability(
    name="markdown-report",
    description=(
        "Writes a markdown report that summarises a JSON list of sources (title, url, text) and cites "
        "them. Use after gathering sources, to produce the summary document."
    ),
    strong=("summar", "report"),
    triggers=("markdown", "sources", "cite", "document"),
    tools=("llm",),
    module="markdown_report",
    extract_inputs=report_inputs,
    answer=report_answer,
    inputs_schema={
        "type": "object",
        "required": ["title"],
        "properties": {
            "title": {"type": "string"},
            "report_path": {"type": "string"},
            "sources_path": {"type": ["string", "null"]},
            "sources": {"type": ["array", "null"]},
            "sentences": {"type": "integer"},
        },
    },
    head=False,
)


# ---- sentiment trend -------------------------------------------------------------------------------


def sentiment_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    posts = find_input(text, files, _TABLES + "|json|jsonl")
    if posts is None:
        return None
    low = text.lower()
    period = (
        "day"
        if re.search(r"\b(?:daily|by day|per day|each day)\b", low)
        else ("month" if re.search(r"\b(?:monthly|by month|per month|each month)\b", low) else "week")
    )
    chart = new_output(text, files, "png") or output_path(f"{_stem(posts)}_sentiment.png")
    return {"posts_path": posts, "chart_path": chart, "period": period}


def sentiment_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    c = result["counts"]
    total = sum(c.values())
    first, last = result.get("first_mean", 0.0), result.get("last_mean", 0.0)
    per = inputs.get("period", "week")
    return (
        f"Classified {total} posts — positive: {c['positive']}, negative: {c['negative']}, neutral: "
        f"{c['neutral']}. Mean sentiment per {per} moved from {first:+.2f} in the first {per} to "
        f"{last:+.2f} in the last (trend slope {result['slope']:+.3f} per {per}), so sentiment is "
        f"{result['trend']}. Chart: {result['chart']}."
    )


SENTIMENT = Capability(
    name="sentiment-trend",
    description=(
        "Classifies the sentiment of dated posts, reviews or comments (CSV or JSON) with the llm tool, "
        "averages it per week, day or month, charts the trend and says whether it is improving or "
        "declining."
    ),
    strong=(
        "sentiment",
        "opinion",
        "mood",
        "tone",
        "feel about",
        "buzz",
        "better or worse",
        "reception",
        "perception",
        "attitude",
    ),
    triggers=(
        "post",
        "review",
        "comment",
        "tweet",
        "trend",
        "week",
        "positive",
        "negative",
        "chart",
        "improving",
        "declining",
        "social",
    ),
    tools=("llm",),
    module="sentiment_trend",
    extract_inputs=sentiment_inputs,
    answer=sentiment_answer,
    inputs_schema={
        "type": "object",
        "required": ["posts_path"],
        "properties": {
            "posts_path": {"type": "string"},
            "chart_path": {"type": "string"},
            "period": {"enum": ["day", "week", "month"]},
        },
    },
)


# ---- JSON API aggregation ----------------------------------------------------------------------------

_OPS = {
    "sum": "sum",
    "total": "sum",
    "average": "mean",
    "mean": "mean",
    "avg": "mean",
    "maximum": "max",
    "max": "max",
    "highest": "max",
    "minimum": "min",
    "min": "min",
    "lowest": "min",
    "cheapest": "min",
    "smallest": "min",
    "most expensive": "max",
    "priciest": "max",
    "largest": "max",
    "biggest": "max",
}
_OP_WORDS = "|".join(sorted((re.escape(k).replace("\\ ", r"\s+") for k in _OPS), key=len, reverse=True))
# A group named by one word, or by two ("product category": the key may sit in a nested object).
_GROUP_NAME = r"[`'\"]?([A-Za-z_]\w*(?:[ .][A-Za-z_]\w*)?)[`'\"]?"
_GROUP = (
    r"(?:per|by|for\s+each|for\s+every|in\s+each|of\s+each|of\s+every|each|every|grouped\s+by|"
    r"broken\s+down\s+by|split\s+by|across)\s+(?!all\b|the\s+whole\b)(?:(?:individual|single|distinct)\s+)?"
    + _GROUP_NAME
)
_NO_GROUP = r"(?:across\s+all|over\s+all|in\s+total|overall|altogether|for\s+all|of\s+all)\b"
_NOT_KEYS = {"does", "do", "did", "is", "are", "was", "were", "has", "have", "had", "can", "will", "there"}
_NOT_KEYS |= {"that", "which", "who", "where", "when", "sells", "has", "gets", "makes", "appears", "so"}
_GROUP_END = {"in", "from", "at", "on", "and", "of", "to", "is", "are", "with", "for", "using", "the", "then"}
_GROUP_END |= {"across", "over", "per", "by", "within", "among", "between", "into", "or", "as"}


def _group_name(raw: str) -> str:
    """ "category in" -> "category"; "product category" stays (the subagent resolves it)."""
    words = raw.replace(".", " . ").split()
    last = words[-1].lower()
    if len(words) > 1 and (last in _GROUP_END | _STOP | _NOT_KEYS or last.endswith(("ed", "ing", "ly"))):
        words = words[:1]
    return " ".join(words).replace(" . ", ".")


def _derived_field(text: str, name: str) -> str | None:
    """`name` defined as a product, sum or difference of two fields: "revenue is qty × unit_price"."""
    m = re.search(
        rf"\b{re.escape(name)}\b(?:\s+(?:per|of|for)\s+\w+)?\s+(?:is|=|equals|means)\s+{_IDENT}\s*"
        rf"([×x*+\-])\s*{_IDENT}",
        text,
        re.I,
    )
    if not m:
        return None
    op = "*" if m.group(2) in "×x*" else m.group(2)
    return f"{m.group(1)}{op}{m.group(3)}"


def api_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    found = urls(text)
    if not found:
        return None
    op = field_name = group = None
    m = re.search(
        rf"\b({_OP_WORDS})s?(?:\s+up)?\s+(?:of\s+)?(?:the\s+)?(?:[a-z]+\s+){{0,2}}?"
        + _IDENT
        + r"(?:\s+field|\s+values?)?\s+"
        + _GROUP,
        text,
        re.I,
    )
    whole = re.search(
        rf"\b({_OP_WORDS})\s+(?:number\s+of\s+|amount\s+of\s+|of\s+)?(?:the\s+)?{_IDENT}\s+{_NO_GROUP}",
        text,
        re.I,
    )
    if m and m.group(2).lower() not in _STOP:
        op, field_name, group = (
            _OPS[" ".join(m.group(1).lower().split())],
            m.group(2),
            _group_name(m.group(3)),
        )
    elif whole and whole.group(2).lower() not in _STOP:
        # One figure over every record ("the total number of downloads across all packages").
        field_name = whole.group(2)
        out = new_output(text, files, "json") or "outputs/aggregate.json"
        inputs = {
            "url": found[0],
            "group_by": None,
            "operation": _OPS[" ".join(whole.group(1).lower().split())],
        }
        inputs |= {"output_path": out, "field": _derived_field(text, field_name) or field_name}
        key = re.search(r"\{\s*[\"']([A-Za-z_]\w*)[\"']\s*:\s*(?:N|<[^>]*>|\.\.\.|x|n)\s*\}", text)
        if key:
            inputs["output_key"] = key.group(1)
        return inputs
    else:
        m = re.search(
            r"\b(?:count|number\s+of|how\s+many|tally|frequency\s+of|break\s+down|distribution\s+of)\s+"
            r"(?:the\s+|all\s+)?(?:\S+\s+){0,5}?" + _GROUP,
            text,
            re.I,
        )
        if m:
            op, group = "count", _group_name(m.group(1))
    if op is None or group is None or group.lower() in _STOP:
        return None
    out = new_output(text, files, "json") or "outputs/aggregate.json"
    inputs: dict[str, Any] = {"url": found[0], "group_by": group, "operation": op, "output_path": out}
    if field_name:
        inputs["field"] = _derived_field(text, field_name) or field_name
    return inputs


def api_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    values = result["values"]
    listing = ", ".join(f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}" for k, v in values.items())
    top = result["top"]
    low = min(values, key=values.get)
    what = "count" if result["operation"] == "count" else f"{result['operation']} of {result['field']}"
    return (
        f"Fetched {result['records']} records from {result['pages']} pages. {what} per "
        f"{result['group_by']}: {listing}. Highest: {top} ({values[top]}); lowest: {low} ({values[low]}). "
        f"Saved to {result['output_path']}."
    )


API = Capability(
    name="json-api-aggregate",
    description=(
        "Fetches every page of a JSON API (following next links) and aggregates a field per group: sum, "
        "mean, count, min or max; writes {group: value} to JSON. Use for totals, averages or counts from "
        "an API endpoint."
    ),
    strong=("api", "endpoint", "paginated", "json feed", "all pages", "every page", "each page", "next page"),
    triggers=(
        "json",
        "page",
        "next",
        "sum",
        "total",
        "average",
        "count",
        "per",
        "each",
        "fetch",
        "aggregate",
        "group",
    ),
    tools=("web_fetch",),
    module="json_api_aggregate",
    extract_inputs=api_inputs,
    answer=api_answer,
    inputs_schema={
        "type": "object",
        "required": ["url"],
        "properties": {
            "url": {"type": "string"},
            "group_by": {"type": ["string", "null"]},
            "operation": {"enum": ["sum", "mean", "count", "min", "max"]},
            "field": {"type": ["string", "null"]},
            "output_path": {"type": "string"},
            "output_key": {"type": ["string", "null"]},
            "max_pages": {"type": "integer"},
        },
    },
    buggy_edits=(
        (
            "    for key in ITEM_KEYS:\n        if isinstance(body.get(key), list):\n            return body[key]\n"
            "    raise",
            '    return body["items"]\n    raise',
        ),
    ),
    bug="assumes the records are under 'items' (KeyError for 'data' or 'results')",
)


# ---- convert and validate ----------------------------------------------------------------------------


def convert_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    csv = find_input(text, files, "csv")
    if csv is None:
        return None
    names = [PurePosixPath(f).name for f in files]
    schemas = [n for n in names if n.lower().endswith(".json") and "schema" in n.lower()]
    schema = (schemas or named_inputs(text, files, "json") or [None])[0]
    if schema is None:
        return None
    json_out = new_output(text, files, "json") or output_path(f"{_stem(csv)}.json")
    invalid = new_output(text, files, "csv") or "outputs/invalid_rows.csv"
    return {
        "csv_path": csv,
        "schema_path": f"inputs/{schema}",
        "json_path": json_out,
        "invalid_path": invalid,
    }


def convert_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    reasons = "\n".join(f"- row {e['row']}: {e['field']}: {e['error']}" for e in result["errors"])
    return (
        f"Invalid rows: {result['invalid']} of {result['total']}. The {result['valid']} valid rows were "
        f"converted to {result['json_path']}; the invalid ones, with the reason, are in "
        f"{result['invalid_path']}:\n{reasons}"
    ).rstrip(":\n")


CONVERT = Capability(
    name="csv-to-json-validate",
    description=(
        "Converts a CSV file to a JSON list, validating and typing each row against a JSON schema; "
        "writes invalid rows with the reason to a CSV. Use for data conversion with validation."
    ),
    strong=("convert", "schema", "validat", "turn", "transform"),
    triggers=("csv", "json", "invalid", "rows", "reject", "reason", "fail", "check", "into"),
    tools=(),
    module="csv_to_json_validate",
    extract_inputs=convert_inputs,
    answer=convert_answer,
    inputs_schema={
        "type": "object",
        "required": ["csv_path", "schema_path"],
        "properties": {
            "csv_path": {"type": "string"},
            "schema_path": {"type": "string"},
            "json_path": {"type": "string"},
            "invalid_path": {"type": "string"},
        },
    },
    buggy_edits=(
        ('        if raw is None or raw.strip() == "":', "        if raw is None:"),
        (
            '        try:\n            value = _coerce(raw, rule.get("type", "string"))\n'
            "        except ValueError as exc:\n            return None, name, str(exc)\n",
            '        value = _coerce(raw, rule.get("type", "string"))\n',
        ),
    ),
    bug="does not handle empty or mistyped cells (ValueError on an empty number)",
)


# ---- a program that must pass given tests ---------------------------------------------------------


def program_inputs(text: str, files: list[str]) -> dict[str, Any] | None:
    names = [PurePosixPath(f).name for f in files]
    tests = [n for n in named_inputs(text, files, "py") if n.startswith("test")]
    tests = tests or [n for n in names if n.startswith("test") and n.endswith(".py")]
    if not tests:
        return None
    module = new_output(text, files, "py")
    inputs: dict[str, Any] = {"tests_path": f"inputs/{tests[0]}", "output_dir": "outputs"}
    if module:
        inputs["module_name"] = _stem(module)
    return inputs


def program_answer(result: dict[str, Any], inputs: dict[str, Any]) -> str:
    tests = PurePosixPath(inputs["tests_path"]).name
    if result["tests"] and not result["failures"]:
        return f"Wrote {result['module_path']}: all {result['tests']} tests in {tests} pass."
    return (
        f"Wrote {result['module_path']}, but {len(result['failures'])} of {result['tests']} tests in {tests} "
        f"still fail: " + "; ".join(result["failures"][:3])
    )


PROGRAM = Capability(
    name="module-from-tests",
    description=(
        "Writes a small Python module that passes a given test file (plain test_* functions), drafting "
        "the code with the llm tool and running the tests to confirm. Use when a task gives tests and "
        "asks for the implementation."
    ),
    strong=("test", "implement", "pass", "satisf"),
    triggers=("python", "module", "function", "write", "program", "code", ".py", "outputs"),
    tools=("llm",),
    module="module_from_tests",
    extract_inputs=program_inputs,
    answer=program_answer,
    inputs_schema={
        "type": "object",
        "required": ["tests_path"],
        "properties": {
            "tests_path": {"type": "string"},
            "module_name": {"type": ["string", "null"]},
            "output_dir": {"type": "string"},
            "attempts": {"type": "integer"},
        },
    },
    min_score=4.0,
)


CAPABILITIES: list[Capability] = [
    PRICE,
    REGRESSION,
    PAGE_LIST,
    RESEARCH,
    REPORT,
    SENTIMENT,
    API,
    CONVERT,
    PROGRAM,
]
