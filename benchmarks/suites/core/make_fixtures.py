"""Generate the core suite: fixture data, local pages, search documents and suite.yaml.

Deterministic (seeded `random`, stdlib only), so running it again rewrites identical files:
    python benchmarks/suites/core/make_fixtures.py
Expected values in the checkers are computed here from the generated data with plain Python, apart
from any solution code, so a wrong solution cannot agree with its own checker by construction.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
import json
import math
import random
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
TASKS: list[dict] = []


def write(rel: str, text: str) -> None:
    path = HERE / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")


def csv_text(header: list[str], rows: list[list]) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(header)
    w.writerows(rows)
    return buf.getvalue()


def task(id: str, batch: int, family: str, text: str, check: list, pair: str | None = None, **fixtures) -> None:
    entry: dict = {"id": id, "batch": batch}
    if pair:
        entry["pair"] = pair
    entry["family"] = family
    entry["text"] = " ".join(text.split())
    fx = {k: v for k, v in fixtures.items() if v}
    if fx:
        entry["fixtures"] = fx
    entry["check"] = check
    TASKS.append(entry)


def stdev(xs: list[float]) -> float:
    m = sum(xs) / len(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


# ---- price series -----------------------------------------------------------------------------------


def business_days(start: dt.date, n: int, step_days: int = 1) -> list[dt.date]:
    days, d = [], start
    while len(days) < n:
        if step_days > 1 or d.weekday() < 5:
            days.append(d)
        d += dt.timedelta(days=step_days)
    return days


def price_path(seed: int, n: int, start: float, drift: float, vol: float) -> list[float]:
    rng = random.Random(seed)
    prices = [start]
    for _ in range(n - 1):
        prices.append(prices[-1] * math.exp(drift + vol * rng.gauss(0, 1)))
    return [round(p, 2) for p in prices]


def annual_vol(prices: list[float], periods: int) -> float:
    rets = [math.log(b / a) for a, b in zip(prices, prices[1:], strict=False)]
    return stdev(rets) * math.sqrt(periods)


def daily_price_file(rel: str, seed: int, start: float, drift: float, vol: float) -> list[float]:
    days = business_days(dt.date(2023, 1, 2), 252)
    closes = price_path(seed, 252, start, drift, vol)
    rng = random.Random(seed + 1)
    rows = []
    for d, c in zip(days, closes, strict=True):
        o = round(c * (1 + rng.uniform(-0.01, 0.01)), 2)
        hi, lo = round(max(o, c) * 1.006, 2), round(min(o, c) * 0.994, 2)
        rows.append([d.isoformat(), o, hi, lo, c, rng.randint(100_000, 900_000)])
    write(rel, csv_text(["Date", "Open", "High", "Low", "Close", "Volume"], rows))
    return closes


def weekly_price_file(rel: str, seed: int, header: list[str], start: float, vol: float) -> list[float]:
    days = business_days(dt.date(2022, 1, 7), 104, step_days=7)
    closes = price_path(seed, 104, start, 0.002, vol)
    # Newest first, as many exports are: a solution must sort by date.
    rows = [[d.isoformat(), c] for d, c in zip(days, closes, strict=True)][::-1]
    write(rel, csv_text(header, rows))
    return closes


def price_family() -> None:
    acme = daily_price_file("data/acme_prices.csv", 11, 84.0, 0.0004, 0.017)
    globex = daily_price_file("data/globex_prices.csv", 23, 212.0, -0.0002, 0.024)
    for tid, batch, pair, name, closes, text in [
        ("price-vol-acme", 1, None, "acme_chart.png", acme,
         "Here is a year of daily stock prices for ACME Corp in acme_prices.csv. Compute the annualised "
         "volatility of the daily returns and plot the closing price over time; save the chart as "
         "acme_chart.png."),
        ("price-vol-globex", 2, "price-vol-acme", "globex_chart.png", globex,
         "Using globex_prices.csv (daily closing prices of Globex), what is the annualized volatility? "
         "Also draw a price chart and save it to globex_chart.png."),
    ]:
        task(tid, batch, "price-series", text, pair=pair, files=[f"data/{tid.split('-')[-1]}_prices.csv"],
             check=[{"answer_number": {"label": "volatility", "value": round(annual_vol(closes, 252), 6),
                                       "rel_tolerance": 0.02}},
                    {"file_is_png": name}])

    initech = weekly_price_file("data/initech_weekly.csv", 31, ["date", "adj_close"], 41.0, 0.035)
    umbrella = weekly_price_file("data/umbrella_weekly.csv", 47, ["Date", "Adj Close"], 130.0, 0.05)
    for tid, batch, pair, file, png, closes, text in [
        ("price-weekly-initech", 1, None, "initech_weekly.csv", "initech_weekly.png", initech,
         "inputs/initech_weekly.csv holds two years of weekly adjusted closing prices for Initech. Report "
         "the annualised volatility (weekly data, so annualise with 52 periods a year) and the total "
         "return over the period, and save a line chart of the price to initech_weekly.png."),
        ("price-weekly-umbrella", 2, "price-weekly-initech", "umbrella_weekly.csv", "umbrella.png",
         umbrella,
         "Weekly adjusted closes for Umbrella Corp are in umbrella_weekly.csv: give me the annualized "
         "volatility of the weekly returns and the total return, with a price chart saved as umbrella.png."),
    ]:
        total = closes[-1] / closes[0] - 1
        task(tid, batch, "price-series", text, pair=pair, files=[f"data/{file}"],
             check=[{"answer_number": {"label": "volatility", "value": round(annual_vol(closes, 52), 6),
                                       "rel_tolerance": 0.02}},
                    {"answer_number": {"label": "total return", "value": round(total, 6),
                                       "tolerance": 0.002}},
                    {"file_is_png": png}])


# ---- regression ------------------------------------------------------------------------------------


def ols(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    sxy = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True))
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sxy / sxx
    intercept = my - slope * mx
    ss_res = sum((y - (intercept + slope * x)) ** 2 for x, y in zip(xs, ys, strict=True))
    ss_tot = sum((y - my) ** 2 for y in ys)
    return slope, intercept, 1 - ss_res / ss_tot


def regression_file(rel: str, seed: int, cols: list[str], n: int, xr: tuple[float, float], a: float,
                    b: float, noise: float, missing: int = 0, extra: str | None = None) -> tuple:
    rng = random.Random(seed)
    rows, xs, ys = [], [], []
    for i in range(n):
        x = round(rng.uniform(*xr), 1)
        y = round(a + b * x + rng.gauss(0, noise), 1)
        row = [i + 1, x, y] if extra else [x, y]
        if missing and i % (n // missing) == 3:
            row[-1 if i % 2 else -2] = ""  # a blank cell: an unhandled edge case for naive code
        else:
            xs.append(x)
            ys.append(y)
        rows.append(row)
    header = [extra, *cols] if extra else cols
    write(rel, csv_text(header, rows))
    return ols(xs, ys)


def regression_checks(fit: tuple, png: str) -> list:
    slope, intercept, r2 = fit
    return [
        {"answer_number": {"label": "slope", "value": round(slope, 6), "rel_tolerance": 0.01}},
        {"answer_number": {"label": "intercept", "value": round(intercept, 6), "rel_tolerance": 0.01,
                           "tolerance": 0.05}},
        {"answer_number": {"label": r"R²|R\^2|R2|r-squared|R squared", "value": round(r2, 6),
                           "tolerance": 0.005}},
        {"file_is_png": png},
    ]


def regression_family() -> None:
    study = regression_file("data/study_hours.csv", 5, ["hours_studied", "exam_score"], 60, (0, 12),
                            48.0, 4.2, 6.0, extra="student")
    ads = regression_file("data/ad_spend.csv", 6, ["tv_spend", "sales"], 80, (5, 300), 7.0, 0.047, 2.5,
                          extra="week")
    task("regress-study", 1, "regression",
         "Fit a linear regression of exam_score on hours_studied using study_hours.csv. Report the slope, "
         "the intercept and R², and make a scatter plot with the fitted line saved as study_scatter.png.",
         files=["data/study_hours.csv"], check=regression_checks(study, "study_scatter.png"))
    task("regress-ads", 2, "regression",
         "Regress sales against tv_spend with the data in ad_spend.csv and give me the slope, intercept "
         "and R-squared, plus a scatter plot (ad_scatter.png).",
         pair="regress-study", files=["data/ad_spend.csv"], check=regression_checks(ads, "ad_scatter.png"))

    ice = regression_file("data/icecream.csv", 8, ["temperature_c", "cones_sold"], 50, (8, 34), -20.0,
                          9.5, 18.0, missing=5)
    rain = regression_file("data/rainfall_umbrellas.csv", 9, ["rain_mm", "umbrellas_sold"], 45, (0, 40),
                           12.0, 3.1, 9.0, missing=4)
    task("regress-icecream", 1, "regression",
         "How does cones_sold depend on temperature_c in icecream.csv? Some rows have missing values. Fit "
         "a straight line (linear regression) and report the slope, intercept and r-squared, and save a "
         "scatter plot as icecream.png.",
         files=["data/icecream.csv"], check=regression_checks(ice, "icecream.png"))
    task("regress-rain", 2, "regression",
         "Using rainfall_umbrellas.csv, model umbrellas_sold as a linear function of rain_mm: I need the "
         "slope, the intercept, R^2 and a scatter chart saved to umbrellas.png.",
         pair="regress-icecream", files=["data/rainfall_umbrellas.csv"],
         check=regression_checks(rain, "umbrellas.png"))


# ---- pages: lists of items and links --------------------------------------------------------------

NAV = """<header><nav><ul>
<li><a href="/">Home</a></li><li><a href="/about.html">About</a></li>
<li><a href="/news.html">News</a></li><li><a href="/contact.html">Contact</a></li>
</ul></nav></header>"""
FOOTER = """<footer><p><a href="/privacy.html">Privacy</a> · <a href="/accessibility.html">Accessibility</a>
· <a href="https://example.org/social">Social</a></p></footer>"""


def page(title: str, body: str) -> str:
    return (f"<!doctype html>\n<html><head><meta charset='utf-8'><title>{title}</title></head>\n"
            f"<body>\n{NAV}\n<main>\n<h1>{title}</h1>\n{body}\n</main>\n{FOOTER}\n</body></html>\n")


def list_checks(md: str, items: list[tuple[str, str]]) -> list:
    return [
        {"markdown_links_include": {"file": md, "links": [href for _n, href in items],
                                    "min_links": len(items)}},
        {"file_contains": {"file": md, "text": [n for n, _h in items]}},
        # the count as a number of its own (not part of a URL, a code or a decimal)
        {"answer_regex": rf"(?<![\w./:-]){len(items)}(?![\w.%/-])"},
    ]


def pages_family() -> None:
    cs = [("Machine Learning Foundations", "ml101"), ("Algorithms and Complexity", "alg201"),
          ("Operating Systems", "os210"), ("Databases", "db220"), ("Computer Networks", "net230"),
          ("Compilers", "cmp310"), ("Computer Vision", "cv320"), ("Distributed Systems", "ds330")]
    cs_items = [(n, f"/site/uni/cs/{code}.html") for n, code in cs]
    lis = "\n".join(f'<li><a href="{code}.html">{n}</a> <span class="code">{code.upper()}</span> — '
                    f"{5 + i % 3} ECTS</li>" for i, (n, code) in enumerate(cs))
    write("site/uni/cs/courses.html", page("Computer Science — Courses 2024/25",
          f"<p>Courses offered this year:</p>\n<ul class='courses'>\n{lis}\n</ul>"))

    math_mods = [("Linear Algebra", "ma101"), ("Real Analysis", "ma102"), ("Probability", "ma201"),
                 ("Statistics", "ma202"), ("Number Theory", "ma301"), ("Topology", "ma302"),
                 ("Numerical Methods", "ma303")]
    math_items = [(n, f"/site/uni/math/modules/{code}") for n, code in math_mods]
    rows = "\n".join(f"<tr><td>{code.upper()}</td><td><a href='/site/uni/math/modules/{code}'>{n}</a></td>"
                     f"<td>Term {1 + i % 2}</td></tr>" for i, (n, code) in enumerate(math_mods))
    write("site/uni/math/modules.html", page("Department of Mathematics: modules",
          f"<table><thead><tr><th>Code</th><th>Module</th><th>Term</th></tr></thead>\n<tbody>\n{rows}\n"
          "</tbody></table>"))
    task("extract-cs-courses", 1, "extract-list",
         "Go to {base_url}/site/uni/cs/courses.html and extract the list of courses with their links into "
         "a markdown file cs_courses.md. How many courses are there?",
         pages=["site/uni/cs/courses.html"], check=list_checks("cs_courses.md", cs_items))
    task("extract-math-modules", 2, "extract-list",
         "The maths department lists its modules at {base_url}/site/uni/math/modules.html: pull out every "
         "module name and link, write them as a markdown list to math_modules.md and tell me how many "
         "there are.",
         pair="extract-cs-courses", pages=["site/uni/math/modules.html"],
         check=list_checks("math_modules.md", math_items))

    odf = [("OpenTransit", "opentransit"), ("Air Quality Commons", "air-quality"),
           ("CivicBudget", "civicbudget"), ("Open Elections Data", "elections"),
           ("Street Trees Atlas", "street-trees"), ("Water Watch", "water-watch")]
    odf_items = [(n, f"https://projects.odf.example/{slug}") for n, slug in odf]
    cards = "\n".join(f"<div class='project'><h3><a href='https://projects.odf.example/{slug}'>{n}</a></h3>"
                      f"<p>An open-data project with {3 + i} maintainers.</p></div>"
                      for i, (n, slug) in enumerate(odf))
    write("site/orgs/odf/projects.html", page("Open Data Foundation — Projects",
          f"<section class='grid'>\n{cards}\n</section>"))
    civic = [("Harbor City Council", "harbor-city"), ("Northfield Library Trust", "northfield"),
             ("Green Streets Alliance", "green-streets"), ("Youth Code Club", "youth-code"),
             ("Riverside Tenants Union", "riverside"), ("Food Share Network", "food-share"),
             ("Makers Guild", "makers-guild"), ("Open Health Lab", "open-health"),
             ("Bike Kitchen Collective", "bike-kitchen")]
    civic_items = [(n, f"/site/orgs/civic/members/{slug}.html") for n, slug in civic]
    members = "\n".join(f"<li class='member'><a href='members/{slug}.html'>{n}</a><br><small>Member "
                        f"since {2012 + i}</small></li>" for i, (n, slug) in enumerate(civic))
    write("site/orgs/civic/members.html", page("Civic Tech Network: our members",
          f"<p>The network brings together {len(civic)} organisations.</p>\n<ol>\n{members}\n</ol>"))
    task("extract-odf-projects", 1, "extract-list",
         "Make a markdown list of all the projects (name and link) shown on the Open Data Foundation's "
         "projects page {base_url}/site/orgs/odf/projects.html, save it as odf_projects.md and say how "
         "many projects you found.",
         pages=["site/orgs/odf/projects.html"], check=list_checks("odf_projects.md", odf_items))
    task("extract-civic-members", 2, "extract-list",
         "List the member organisations with their links from {base_url}/site/orgs/civic/members.html as "
         "markdown in civic_members.md, and give the count.",
         pair="extract-odf-projects", pages=["site/orgs/civic/members.html"],
         check=list_checks("civic_members.md", civic_items))


# ---- search, read, summarise ------------------------------------------------------------------------

ARTICLES = {
    "battery": [
        ("Grid-scale battery storage passes a milestone",
         "Grid-scale battery storage capacity doubled last year as utilities added lithium-ion systems "
         "beside solar farms. Batteries shift midday solar power into the evening peak. Operators report "
         "that four-hour systems now dominate new projects. Falling cell prices made storage cheaper "
         "than gas peaker plants in several markets."),
        ("Why utilities are buying four-hour batteries",
         "Utilities are buying four-hour lithium-ion batteries because they match the evening demand "
         "peak. Battery storage also provides frequency regulation, which stabilises the grid within "
         "milliseconds. Long-duration storage such as iron-air batteries is still in pilot projects. "
         "Regulators are updating market rules so that storage can be paid for capacity."),
        ("Safety and recycling in battery storage",
         "Fire safety is the main public concern about grid-scale battery storage. New standards require "
         "spacing between containers and gas detection. Recycling of lithium-ion cells recovers cobalt, "
         "nickel and lithium. Second-life electric vehicle batteries are being tested for stationary "
         "storage."),
    ],
    "coral": [
        ("Coral reef bleaching reaches a fourth global event",
         "Scientists confirmed a fourth global coral bleaching event driven by record ocean heat. "
         "Bleaching happens when stressed corals expel the algae that feed them. Reefs in the Atlantic, "
         "Pacific and Indian oceans are affected. Corals can recover if water temperatures fall quickly."),
        ("How marine heatwaves bleach reefs",
         "Marine heatwaves push water temperatures above the bleaching threshold for weeks. Degree "
         "heating weeks measure accumulated heat stress on coral reefs. Severe bleaching leads to coral "
         "death and loss of fish habitat. Satellite monitoring gives early warnings to reef managers."),
        ("Restoring bleached coral reefs",
         "Reef restoration projects grow heat-tolerant corals in nurseries and replant them. Reducing "
         "local pollution and overfishing helps reefs recover after bleaching. Restoration cannot keep "
         "pace with warming unless emissions fall. Coral gardening has succeeded on small reef patches."),
    ],
    "other": [
        ("A guide to sourdough baking",
         "Sourdough bread uses a fermented starter instead of commercial yeast. Hydration and proofing "
         "time decide the crumb. Bakers feed the starter daily."),
        ("Choosing a trail running shoe",
         "Trail running shoes need grip, protection and a secure fit. Drop and cushioning are personal "
         "choices. Test shoes on the terrain you run most."),
    ],
}


def summary_answers(articles: list[tuple[str, str]]) -> list[dict]:
    """What the report's `llm` summaries answer: per source its first two sentences, overall the first
    sentence of each source. A prompt is recognised by the length asked and a source's opening words."""
    out = []
    for _title, body in articles:
        sentences = [x.strip(". ") + "." for x in body.split(". ") if x.strip(". ")]
        out.append({"when": ["in 2 sentences", sentences[0][:60]], "answer": " ".join(sentences[:2])})
    overall = " ".join(body.split(". ")[0].strip(". ") + "." for _title, body in articles)
    out.append({"when": ["in 4 sentences", articles[0][1][:60]], "answer": overall})
    return out


def search_family() -> dict[str, list[str]]:
    docs: dict[str, list[str]] = {}
    for topic, arts in ARTICLES.items():
        for i, (title, body) in enumerate(arts, start=1):
            slug = f"{topic}-{i}"
            url_path = f"/site/articles/{slug}.html"
            paras = "".join(f"<p>{s.strip()}.</p>\n" for s in body.split(". ") if s.strip(". "))
            write(f"site/articles/{slug}.html", page(title, paras))
            snippet = body.split(". ")[0] + "."
            write(f"docs/{slug}.md", f"---\ntitle: {title}\nurl: '{{base_url}}{url_path}'\n---\n# {title}\n\n"
                  f"{snippet}\n")
            docs.setdefault(topic, []).append(url_path)
    for topic, task_id in (("battery", "research-battery"), ("coral", "research-coral")):
        LLM[task_id] = summary_answers(ARTICLES[topic])
    all_docs = sorted(f"docs/{p.name}" for p in (HERE / "docs").glob("*.md"))
    all_pages = sorted(f"site/articles/{p.name}" for p in (HERE / "site/articles").glob("*.html"))
    task("research-battery", 1, "search-summarise",
         "Search for information on grid-scale battery storage, read the three most relevant sources and "
         "write a markdown report with a short summary and the list of sources to battery_report.md.",
         documents=all_docs, pages=all_pages,
         check=[{"markdown_links_include": {"file": "battery_report.md", "links": docs["battery"]}},
                {"file_contains": {"file": "battery_report.md", "text": ["summary", "lithium"]}},
                {"file_not_contains": {"file": "battery_report.md", "text": ["sourdough", "trail running"]}}])
    task("research-coral", 2, "search-summarise",
         "Research coral reef bleaching: search the web, read the top 3 sources and summarise them in a "
         "markdown report saved as coral_report.md, citing the sources.",
         pair="research-battery", documents=all_docs, pages=all_pages,
         check=[{"markdown_links_include": {"file": "coral_report.md", "links": docs["coral"]}},
                {"file_contains": {"file": "coral_report.md", "text": ["summary", "bleaching"]}},
                {"file_not_contains": {"file": "coral_report.md", "text": ["sourdough", "battery"]}}])
    return docs


# ---- sentiment trend -------------------------------------------------------------------------------

POS = ["I love the {p}, it makes great coffee every morning.", "The {p} is excellent, highly recommend it.",
       "Really happy with my {p}, works perfectly.", "The new update made the {p} fantastic.",
       "Impressed by how reliable the {p} is."]
NEG = ["The {p} broke after a week, terrible quality.", "Very disappointed, the {p} is noisy and slow.",
       "Worst purchase this year, the {p} keeps failing.", "The {p} leaks everywhere, awful.",
       "Support for the {p} is useless, I want a refund."]
NEU = ["Got the {p} delivered today.", "The {p} comes in three colours.",
       "Does anyone know the weight of the {p}?"]


def sentiment_posts(seed: int, product: str, start: dt.date, weeks: int, per_week: int,
                    improving: bool) -> tuple[list[tuple[str, str, str]], dict[str, int]]:
    rng = random.Random(seed)
    posts, counts = [], {"positive": 0, "negative": 0, "neutral": 0}
    for w in range(weeks):
        p_pos = 0.15 + 0.7 * (w / (weeks - 1))
        if not improving:
            p_pos = 0.85 - 0.7 * (w / (weeks - 1))
        for _ in range(per_week):
            r = rng.random()
            label = "neutral" if r < 0.15 else ("positive" if rng.random() < p_pos else "negative")
            text = rng.choice({"positive": POS, "negative": NEG, "neutral": NEU}[label]).format(p=product)
            when = start + dt.timedelta(days=7 * w + rng.randint(0, 6), hours=rng.randint(7, 22))
            posts.append((when.isoformat(timespec="minutes") if isinstance(when, dt.datetime)
                          else when.isoformat(), rng.choice(["ana", "bo", "chen", "dee", "eli"]), text))
            counts[label] += 1
    posts.sort()
    return posts, counts


def sentiment_answers(product: str) -> list[dict]:
    """The label of every post text the generator can write: what the classifier's `llm` call answers."""
    return [{"when": f"Post: {text.format(p=product)}", "answer": label}
            for label, texts in (("positive", POS), ("negative", NEG), ("neutral", NEU)) for text in texts]


def sentiment_family() -> None:
    LLM["sentiment-brewbox"] = sentiment_answers("BrewBox")
    LLM["sentiment-zephyr"] = sentiment_answers("Zephyr scooter")
    brew, brew_counts = sentiment_posts(3, "BrewBox", dt.datetime(2024, 3, 4), 8, 6, improving=True)
    write("data/brewbox_posts.csv", csv_text(["date", "author", "text"], [list(p) for p in brew]))
    zeph, zeph_counts = sentiment_posts(4, "Zephyr scooter", dt.datetime(2024, 5, 6), 7, 7,
                                        improving=False)
    write("data/zephyr_posts.json", json.dumps(
        [{"timestamp": t, "user": u, "content": c} for t, u, c in zeph], indent=1) + "\n")
    task("sentiment-brewbox", 1, "sentiment-trend",
         "Here are social media posts about the BrewBox coffee maker (brewbox_posts.csv). Classify each "
         "post's sentiment, show how sentiment changes week by week in a chart saved as "
         "brewbox_sentiment.png, and tell me whether opinion is improving or getting worse, with the "
         "number of positive and negative posts.",
         files=["data/brewbox_posts.csv"],
         check=[{"answer_contains": "improving"}, {"answer_not_contains": ["declining", "getting worse"]},
                {"answer_number": {"label": "positive", "value": brew_counts["positive"], "tolerance": 0}},
                {"answer_number": {"label": "negative", "value": brew_counts["negative"], "tolerance": 0}},
                {"file_is_png": "brewbox_sentiment.png"}])
    task("sentiment-zephyr", 2, "sentiment-trend",
         "Analyse the sentiment trend of the posts about the Zephyr scooter in zephyr_posts.json by week: "
         "count positive and negative posts, save a chart as zephyr_trend.png and say if sentiment is "
         "improving or declining.",
         pair="sentiment-brewbox", files=["data/zephyr_posts.json"],
         check=[{"answer_contains": "declining"}, {"answer_not_contains": "improving"},
                {"answer_number": {"label": "positive", "value": zeph_counts["positive"], "tolerance": 0}},
                {"answer_number": {"label": "negative", "value": zeph_counts["negative"], "tolerance": 0}},
                {"file_is_png": "zephyr_trend.png"}])


# ---- JSON API aggregation ----------------------------------------------------------------------------


def paged_api(base: str, records: list[dict], per_page: int, items_key: str, next_key: str) -> list[str]:
    pages = [records[i:i + per_page] for i in range(0, len(records), per_page)]
    files = []
    for n, chunk in enumerate(pages, start=1):
        nxt = f"{{base_url}}/{base}/page-{n + 1}.json" if n < len(pages) else None
        body = {items_key: chunk, next_key: nxt, "page": n}
        write(f"{base}/page-{n}.json", json.dumps(body, indent=1) + "\n")
        files.append(f"{base}/page-{n}.json")
    return files


def aggregate(records: list[dict], field: str | None, group: str, op: str) -> dict:
    groups: dict[str, list[float]] = {}
    for r in records:
        groups.setdefault(str(r[group]), []).append(1.0 if field is None else float(r[field]))
    if op == "sum":
        return {k: round(sum(v), 2) for k, v in sorted(groups.items())}
    if op == "count":
        return {k: len(v) for k, v in sorted(groups.items())}
    return {k: round(sum(v) / len(v), 2) for k, v in sorted(groups.items())}


def api_family() -> None:
    rng = random.Random(77)
    orders = [{"id": 1000 + i, "region": rng.choice(["north", "south", "east", "west"]),
               "amount": round(rng.uniform(5, 400), 2), "status": rng.choice(["paid", "shipped"]),
               "date": (dt.date(2024, 1, 1) + dt.timedelta(days=i // 3)).isoformat()} for i in range(57)]
    shop = paged_api("site/api/shop/orders", orders, 20, "data", "next")
    totals = aggregate(orders, "amount", "region", "sum")
    top = max(totals, key=totals.get)
    task("api-orders-by-region", 1, "json-api",
         "Our shop API at {base_url}/site/api/shop/orders/page-1.json returns orders in pages (follow the "
         "next link). Sum the amount per region, save the totals as region_totals.json and tell me which "
         "region sells the most.",
         pages=shop, check=[{"json_equals": {"file": "region_totals.json", "value": totals, "tolerance": 0.01}},
                            {"answer_contains": top},
                            {"answer_number": {"label": top, "value": totals[top], "tolerance": 0.01}}])
    rng = random.Random(78)
    tickets = [{"ticket": f"T-{i:04d}", "status": rng.choice(["open", "open", "pending", "closed", "closed",
                                                               "closed"]),
                "priority": rng.choice(["low", "high"])} for i in range(43)]
    desk = paged_api("site/api/helpdesk/tickets", tickets, 15, "results", "next_page")
    counts = aggregate(tickets, None, "status", "count")
    common = max(counts, key=counts.get)
    task("api-tickets-by-status", 2, "json-api",
         "Fetch all support tickets from {base_url}/site/api/helpdesk/tickets/page-1.json (it is "
         "paginated), count the tickets per status, save the counts to ticket_counts.json and tell me "
         "which status is the most common.",
         pair="api-orders-by-region", pages=desk,
         check=[{"json_equals": {"file": "ticket_counts.json", "value": counts}},
                {"answer_contains": common}])

    rng = random.Random(79)
    readings = [{"sensor_id": rng.choice(["s1", "s2", "s3"]), "temperature": round(rng.uniform(15, 30), 1),
                 "humidity": rng.randint(30, 70)} for _ in range(36)]
    sensors = paged_api("site/api/sensors/readings", readings, 36, "items", "next")
    means = aggregate(readings, "temperature", "sensor_id", "mean")
    task("api-sensor-means", 1, "json-api",
         "The sensor API at {base_url}/site/api/sensors/readings/page-1.json lists temperature readings. "
         "Compute the average temperature per sensor, save it as sensor_means.json and say which sensor "
         "is the warmest.",
         pages=sensors,
         check=[{"json_equals": {"file": "sensor_means.json", "value": means, "tolerance": 0.01}},
                {"answer_contains": max(means, key=means.get)}])
    rng = random.Random(80)
    products = [{"sku": f"P{i:03d}", "category": rng.choice(["garden", "kitchen", "toys", "books"]),
                 "price": round(rng.uniform(2, 120), 2)} for i in range(50)]
    catalog = paged_api("site/api/catalog/products", products, 12, "records", "next_url")
    avg = aggregate(products, "price", "category", "mean")
    task("api-catalog-avg-price", 2, "json-api",
         "Get the average price for each category from the catalogue API "
         "{base_url}/site/api/catalog/products/page-1.json (all pages) and write the result to "
         "category_avg_price.json; which category is the most expensive on average?",
         pair="api-sensor-means", pages=catalog,
         check=[{"json_equals": {"file": "category_avg_price.json", "value": avg, "tolerance": 0.01}},
                {"answer_contains": max(avg, key=avg.get)}])


# ---- convert and validate ----------------------------------------------------------------------------


def convert_family() -> None:
    cust_schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Customer", "type": "object",
        "required": ["id", "name", "email", "age"],
        "properties": {"id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "minLength": 1},
                       "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]+$"},
                       "age": {"type": "integer", "minimum": 18, "maximum": 120},
                       "vip": {"type": "boolean"}}}
    write("data/customer_schema.json", json.dumps(cust_schema, indent=2) + "\n")
    rng = random.Random(12)
    first = ["Ada", "Ben", "Cleo", "Dan", "Eva", "Finn", "Gus", "Hana", "Ivo", "Jo", "Kim", "Lea", "Max",
             "Nia", "Oli", "Pia", "Quin", "Rui", "Sol", "Tia"]
    rows, bad = [], {4: ("email", "ben.example.com"), 9: ("age", "-3"), 13: ("name", ""), 17: ("age", "")}
    for i, name in enumerate(first, start=1):
        row = {"id": str(i), "name": name, "email": f"{name.lower()}@example.com",
               "age": str(rng.randint(18, 80)), "vip": rng.choice(["true", "false"])}
        if i in bad:
            row[bad[i][0]] = bad[i][1]
        rows.append(row)
    write("data/customers.csv", csv_text(list(rows[0]), [list(r.values()) for r in rows]))
    n_valid = len(rows) - len(bad)
    array_schema = {"type": "array", "minItems": n_valid, "maxItems": n_valid,
                    "items": {k: v for k, v in cust_schema.items() if k != "$schema"}}
    task("convert-customers", 1, "convert-validate",
         "Convert customers.csv to JSON (customers.json), validating each row against "
         "customer_schema.json: keep only the valid rows in the JSON and write the invalid ones with the "
         "reason to invalid_rows.csv. How many rows were invalid?",
         files=["data/customers.csv", "data/customer_schema.json"],
         check=[{"json_valid": {"file": "customers.json", "schema": array_schema}},
                {"csv_columns": {"file": "invalid_rows.csv", "columns": ["row", "error"], "rows": len(bad)}},
                {"answer_number": {"label": "invalid", "value": len(bad), "tolerance": 0, "window": 40}}])

    prod_schema = {
        "type": "object", "required": ["sku", "title", "price", "stock"],
        "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{3}-[0-9]{3}$"},
                       "title": {"type": "string", "minLength": 2},
                       "price": {"type": "number", "exclusiveMinimum": 0},
                       "stock": {"type": "integer", "minimum": 0},
                       "category": {"type": "string", "enum": ["tools", "paint", "garden"]}}}
    write("data/product_schema.json", json.dumps(prod_schema, indent=2) + "\n")
    rng = random.Random(13)
    prows, pbad = [], {2: ("price", "0"), 6: ("sku", "ab-12"), 7: ("stock", "many"), 11: ("category", "toys"),
                       14: ("price", "")}
    for i in range(1, 17):
        row = {"sku": f"{rng.choice(['HAM', 'SAW', 'BRU', 'HOS'])}-{100 + i}",
               "title": f"Item {i}", "price": f"{rng.uniform(1, 90):.2f}", "stock": str(rng.randint(0, 40)),
               "category": rng.choice(["tools", "paint", "garden"])}
        if i in pbad:
            row[pbad[i][0]] = pbad[i][1]
        prows.append(row)
    write("data/products.csv", csv_text(list(prows[0]), [list(r.values()) for r in prows]))
    p_valid = len(prows) - len(pbad)
    task("convert-products", 2, "convert-validate",
         "Turn products.csv into products.json, checking every row against the JSON schema in "
         "product_schema.json; rows that fail go to rejected_products.csv with the reason. Report how many "
         "rows were invalid.",
         pair="convert-customers", files=["data/products.csv", "data/product_schema.json"],
         check=[{"json_valid": {"file": "products.json",
                                "schema": {"type": "array", "minItems": p_valid, "maxItems": p_valid,
                                           "items": prod_schema}}},
                {"csv_columns": {"file": "rejected_products.csv", "columns": ["row", "error"],
                                 "rows": len(pbad)}},
                {"answer_number": {"label": "invalid", "value": len(pbad), "tolerance": 0, "window": 40}}])


# ---- a program that must pass given tests ---------------------------------------------------------

TEST_SLUGIFY = '''"""Tests for slugify.py: plain asserts, runnable without pytest."""
from slugify import slugify


def test_basic():
    assert slugify("Hello World") == "hello-world"


def test_punctuation_and_spaces():
    assert slugify("  Hello,   World!  ") == "hello-world"


def test_accents():
    assert slugify("Crème Brûlée à la carte") == "creme-brulee-a-la-carte"


def test_custom_separator():
    assert slugify("Data Science 101", sep="_") == "data_science_101"


def test_empty():
    assert slugify("!!!") == ""
'''

TEST_ROMAN = '''"""Tests for roman.py: plain asserts, runnable without pytest."""
from roman import from_roman, to_roman


def test_small():
    assert to_roman(1) == "I"
    assert to_roman(4) == "IV"
    assert to_roman(9) == "IX"


def test_large():
    assert to_roman(1994) == "MCMXCIV"
    assert to_roman(3999) == "MMMCMXCIX"


def test_round_trip():
    for n in range(1, 400):
        assert from_roman(to_roman(n)) == n


def test_invalid():
    try:
        to_roman(0)
    except ValueError:
        return
    raise AssertionError("to_roman(0) must raise ValueError")
'''

RUN_TESTS = '''"""Python check: run every test_* function of the task's test files against the module in outputs/."""
import importlib.util
import sys
import traceback
from pathlib import Path


def check(answer, outputs_dir, fixtures_dir):
    sys.path.insert(0, str(Path(outputs_dir).resolve()))
    failures, count = [], 0
    for test_file in sorted(Path(fixtures_dir).glob("test_*.py")):
        spec = importlib.util.spec_from_file_location(test_file.stem, test_file)
        module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except Exception as exc:
            return False, f"{test_file.name} cannot import the solution: {type(exc).__name__}: {exc}"
        for name in sorted(dir(module)):
            if name.startswith("test_") and callable(getattr(module, name)):
                count += 1
                try:
                    getattr(module, name)()
                except Exception:
                    failures.append(f"{name}: {traceback.format_exc(limit=1).strip().splitlines()[-1]}")
    if count == 0:
        return False, "no tests found"
    if failures:
        return False, f"{len(failures)} of {count} tests failed: " + "; ".join(failures[:3])
    return True, f"all {count} tests pass"
'''


# The suite author's solutions: what the `llm` call of module-from-tests answers for each module.
SLUGIFY = '''import re
import unicodedata


def slugify(text, sep="-"):
    """Lowercase ASCII slug of `text`: accents removed, runs of other characters become `sep`."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    words = re.findall(r"[a-z0-9]+", ascii_text.lower())
    return sep.join(words)
'''
ROMAN = '''_NUMERALS = [(1000, "M"), (900, "CM"), (500, "D"), (400, "CD"), (100, "C"), (90, "XC"),
             (50, "L"), (40, "XL"), (10, "X"), (9, "IX"), (5, "V"), (4, "IV"), (1, "I")]


def to_roman(number):
    """Roman numeral of an integer from 1 to 3999."""
    if not isinstance(number, int) or not 0 < number < 4000:
        raise ValueError("to_roman needs an integer from 1 to 3999")
    out = []
    for value, letters in _NUMERALS:
        count, number = divmod(number, value)
        out.append(letters * count)
    return "".join(out)


_VALUES = {"I": 1, "V": 5, "X": 10, "L": 50, "C": 100, "D": 500, "M": 1000}


def from_roman(text):
    """Integer value of a Roman numeral."""
    text = text.strip().upper()
    if not text or any(c not in _VALUES for c in text):
        raise ValueError(f"not a Roman numeral: {text!r}")
    total = 0
    for i, c in enumerate(text):
        value = _VALUES[c]
        total += -value if i + 1 < len(text) and _VALUES[text[i + 1]] > value else value
    return total
'''


def program_family() -> None:
    LLM["program-slugify"] = [{"when": "module named slugify.py", "answer": f"```python\n{SLUGIFY}```"}]
    LLM["program-roman"] = [{"when": "module named roman.py", "answer": f"```python\n{ROMAN}```"}]
    write("data/test_slugify.py", TEST_SLUGIFY)
    write("data/test_roman.py", TEST_ROMAN)
    write("checks/run_tests.py", RUN_TESTS)
    task("program-slugify", 1, "program-from-tests",
         "Write a Python module slugify.py that passes the tests in test_slugify.py and save it to "
         "outputs/slugify.py.",
         files=["data/test_slugify.py"],
         check=[{"file_exists": "slugify.py"}, {"python": "checks/run_tests.py"}])
    task("program-roman", 2, "program-from-tests",
         "Implement roman.py so that the tests in test_roman.py pass; put the module in outputs.",
         pair="program-slugify", files=["data/test_roman.py"],
         check=[{"file_exists": "roman.py"}, {"python": "checks/run_tests.py"}])


# ---- what the simulated model needs (an oracle: it never reads the task text) ----------------------
# Per task: the reference capabilities it uses (capabilities/<name>/, written by the suite author), the
# inputs of each call, and what a subagent's `llm` tool answers (added by the families above). The
# answer is the last capability's own `answer` field unless a task says otherwise.

ORACLE: dict[str, dict] = {
    "price-vol-acme": {
        "capabilities": ["price-volatility"],
        "inputs": {
            "price-volatility": {"csv_path": "inputs/acme_prices.csv", "periods_per_year": 252, "chart_path": "outputs/acme_chart.png", "hint_columns": ["ACME"]},
        },
    },
    "price-weekly-initech": {
        "capabilities": ["price-volatility"],
        "inputs": {
            "price-volatility": {"csv_path": "inputs/initech_weekly.csv", "periods_per_year": 52, "chart_path": "outputs/initech_weekly.png"},
        },
    },
    "regress-study": {
        "capabilities": ["linear-regression"],
        "inputs": {
            "linear-regression": {"csv_path": "inputs/study_hours.csv", "x": "hours_studied", "y": "exam_score", "chart_path": "outputs/study_scatter.png"},
        },
    },
    "regress-icecream": {
        "capabilities": ["linear-regression"],
        "inputs": {
            "linear-regression": {"csv_path": "inputs/icecream.csv", "x": "temperature_c", "y": "cones_sold", "chart_path": "outputs/icecream.png"},
        },
    },
    "extract-cs-courses": {
        "capabilities": ["page-links-to-markdown"],
        "inputs": {
            "page-links-to-markdown": {"url": "{base_url}/site/uni/cs/courses.html", "output_path": "outputs/cs_courses.md"},
        },
    },
    "extract-odf-projects": {
        "capabilities": ["page-links-to-markdown"],
        "inputs": {
            "page-links-to-markdown": {"url": "{base_url}/site/orgs/odf/projects.html", "output_path": "outputs/odf_projects.md"},
        },
    },
    "research-battery": {
        "capabilities": ["web-research", "markdown-report"],
        "inputs": {
            "web-research": {"query": "grid-scale battery storage", "k": 3, "sources_path": "outputs/sources.json"},
            "markdown-report": {"title": "Report: Grid-scale battery storage", "report_path": "outputs/battery_report.md", "sources_path": "outputs/sources.json"},
        },
    },
    "sentiment-brewbox": {
        "capabilities": ["sentiment-trend"],
        "inputs": {
            "sentiment-trend": {"posts_path": "inputs/brewbox_posts.csv", "chart_path": "outputs/brewbox_sentiment.png", "period": "week"},
        },
    },
    "api-orders-by-region": {
        "capabilities": ["json-api-aggregate"],
        "inputs": {
            "json-api-aggregate": {"url": "{base_url}/site/api/shop/orders/page-1.json", "group_by": "region", "operation": "sum", "output_path": "outputs/region_totals.json", "field": "amount"},
        },
    },
    "api-sensor-means": {
        "capabilities": ["json-api-aggregate"],
        "inputs": {
            "json-api-aggregate": {"url": "{base_url}/site/api/sensors/readings/page-1.json", "group_by": "sensor", "operation": "mean", "output_path": "outputs/sensor_means.json", "field": "temperature"},
        },
    },
    "convert-customers": {
        "capabilities": ["csv-to-json-validate"],
        "inputs": {
            "csv-to-json-validate": {"csv_path": "inputs/customers.csv", "schema_path": "inputs/customer_schema.json", "json_path": "outputs/customers.json", "invalid_path": "outputs/invalid_rows.csv"},
        },
    },
    "program-slugify": {
        "capabilities": ["module-from-tests"],
        "inputs": {
            "module-from-tests": {"tests_path": "inputs/test_slugify.py", "output_dir": "outputs", "module_name": "slugify"},
        },
    },
    "price-vol-globex": {
        "capabilities": ["price-volatility"],
        "inputs": {
            "price-volatility": {"csv_path": "inputs/globex_prices.csv", "periods_per_year": 252, "chart_path": "outputs/globex_chart.png"},
        },
    },
    "price-weekly-umbrella": {
        "capabilities": ["price-volatility"],
        "inputs": {
            "price-volatility": {"csv_path": "inputs/umbrella_weekly.csv", "periods_per_year": 52, "chart_path": "outputs/umbrella.png"},
        },
    },
    "regress-ads": {
        "capabilities": ["linear-regression"],
        "inputs": {
            "linear-regression": {"csv_path": "inputs/ad_spend.csv", "x": "tv_spend", "y": "sales", "chart_path": "outputs/ad_scatter.png"},
        },
    },
    "regress-rain": {
        "capabilities": ["linear-regression"],
        "inputs": {
            "linear-regression": {"csv_path": "inputs/rainfall_umbrellas.csv", "x": "rain_mm", "y": "umbrellas_sold", "chart_path": "outputs/umbrellas.png"},
        },
    },
    "extract-math-modules": {
        "capabilities": ["page-links-to-markdown"],
        "inputs": {
            "page-links-to-markdown": {"url": "{base_url}/site/uni/math/modules.html", "output_path": "outputs/math_modules.md"},
        },
    },
    "extract-civic-members": {
        "capabilities": ["page-links-to-markdown"],
        "inputs": {
            "page-links-to-markdown": {"url": "{base_url}/site/orgs/civic/members.html", "output_path": "outputs/civic_members.md"},
        },
    },
    "research-coral": {
        "capabilities": ["web-research", "markdown-report"],
        "inputs": {
            "web-research": {"query": "coral reef bleaching", "k": 3, "sources_path": "outputs/sources.json"},
            "markdown-report": {"title": "Report: Coral reef bleaching", "report_path": "outputs/coral_report.md", "sources_path": "outputs/sources.json"},
        },
    },
    "sentiment-zephyr": {
        "capabilities": ["sentiment-trend"],
        "inputs": {
            "sentiment-trend": {"posts_path": "inputs/zephyr_posts.json", "chart_path": "outputs/zephyr_trend.png", "period": "week"},
        },
    },
    "api-tickets-by-status": {
        "capabilities": ["json-api-aggregate"],
        "inputs": {
            "json-api-aggregate": {"url": "{base_url}/site/api/helpdesk/tickets/page-1.json", "group_by": "status", "operation": "count", "output_path": "outputs/ticket_counts.json"},
        },
    },
    "api-catalog-avg-price": {
        "capabilities": ["json-api-aggregate"],
        "inputs": {
            "json-api-aggregate": {"url": "{base_url}/site/api/catalog/products/page-1.json", "group_by": "category", "operation": "mean", "output_path": "outputs/category_avg_price.json", "field": "price"},
        },
    },
    "convert-products": {
        "capabilities": ["csv-to-json-validate"],
        "inputs": {
            "csv-to-json-validate": {"csv_path": "inputs/products.csv", "schema_path": "inputs/product_schema.json", "json_path": "outputs/products.json", "invalid_path": "outputs/rejected_products.csv"},
        },
    },
    "program-roman": {
        "capabilities": ["module-from-tests"],
        "inputs": {
            "module-from-tests": {"tests_path": "inputs/test_roman.py", "output_dir": "outputs", "module_name": "roman"},
        },
    },
}
LLM: dict[str, list[dict]] = {}


def declare(entry: dict) -> dict:
    """The task entry with its oracle declarations, in a stable key order."""
    oracle = ORACLE[entry["id"]]
    out = dict(entry)
    out["capabilities"] = oracle["capabilities"]
    out["inputs"] = oracle["inputs"]
    if entry["id"] in LLM:
        out["llm"] = LLM[entry["id"]]
    return out


def main() -> None:
    for old in ("docs", "site/articles"):
        for p in (HERE / old).glob("*"):
            p.unlink()
    price_family()
    regression_family()
    pages_family()
    search_family()
    sentiment_family()
    api_family()
    convert_family()
    program_family()
    ordered = [declare(t) for t in TASKS if t["batch"] == 1] + [declare(t) for t in TASKS if t["batch"] == 2]
    header = ("# Core suite of the AgentFactory benchmark. GENERATED by make_fixtures.py: edit that script,\n"
              "# then run `python benchmarks/suites/core/make_fixtures.py`. Format: ../README.md\n")
    body = yaml.safe_dump({"name": "core",
                           "description": "12 task pairs in 8 families; batch 2 is a variant of batch 1.",
                           "tasks": ordered}, sort_keys=False, allow_unicode=True, width=100)
    write("suite.yaml", header + body)
    print(f"wrote {len(TASKS)} tasks to {HERE / 'suite.yaml'}")


if __name__ == "__main__":
    main()
