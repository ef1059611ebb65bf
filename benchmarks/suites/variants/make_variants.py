"""Generate the 'variants' suite (seeded): the core suite's families written by another hand.

Other entities, file layouts (OHLC exports, thousands separators, semicolons, JSON posts), page layouts
(cards, tables, sidebars), API shapes, schemas, test styles and phrasings, plus tasks outside every
family that must fail honestly. Expected values are computed here with numpy/pandas, never by running
the simulated model. Regenerate with `python benchmarks/suites/variants/make_variants.py`.
"""
import csv, json, math, random, re, shutil
from pathlib import Path
import numpy as np
import pandas as pd
import yaml

ROOT = Path(__file__).parent
for d in ("data", "site", "docs", "checks"):
    shutil.rmtree(ROOT / d, ignore_errors=True)
    (ROOT / d).mkdir(parents=True)
rng = np.random.default_rng(7)
R = random.Random(11)
tasks = []

def w(rel, text):
    p = ROOT / rel; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text, encoding="utf-8")

def logvol(prices, per):
    r = np.diff(np.log(np.asarray(prices, float)))
    return float(np.std(r, ddof=1) * math.sqrt(per))

def gbm(n, s0, sigma_ann, per, mu=0.05):
    r = rng.normal(mu / per, sigma_ann / math.sqrt(per), n - 1)
    return s0 * np.exp(np.concatenate([[0], np.cumsum(r)]))

def vol_check(v, png, total=None):
    c = [{"answer_number": {"label": "volatil", "value": round(v, 6), "rel_tolerance": 0.02}}]
    if total is not None:
        c.append({"answer_number": {"label": "total return", "value": round(total, 6), "tolerance": 0.002}})
    c.append({"file_is_png": png})
    return c

# ---------------- price series ----------------
days = pd.bdate_range("2023-01-02", periods=250)
close = gbm(250, 142.0, 0.31, 252)
factor = np.where(np.arange(250) < 120, 0.985, 1.0)  # a dividend adjustment before day 120
adj = close * factor
df = pd.DataFrame({"Date": days.strftime("%Y-%m-%d"), "Open": (close * 0.998).round(2), "High": (close * 1.01).round(2),
                   "Low": (close * 0.99).round(2), "Close": close.round(2), "Adj Close": adj.round(4),
                   "Volume": rng.integers(1e6, 9e6, 250)})
df.to_csv(ROOT / "data/hooli_ohlc.csv", index=False)
v = logvol(df["Adj Close"], 252)
tasks.append(dict(id="vol-hooli-yahoo", batch=1, family="price-series",
    text="hooli_ohlc.csv has daily OHLC data for Hooli Inc (a Yahoo Finance export). What's the annualized volatility "
         "of the daily returns, based on the adjusted close? Save a chart of the adjusted close as hooli_adj.png.",
    fixtures={"files": ["data/hooli_ohlc.csv"]}, check=vol_check(v, "hooli_adj.png")))

days = pd.date_range("2023-01-01", periods=365, freq="D")
p = gbm(365, 21.0, 0.85, 365)
df = pd.DataFrame({"date": days.strftime("%Y-%m-%d"), "symbol": "SOL", "close_price": p.round(3),
                   "volume": rng.integers(2e8, 9e8, 365)})
df.to_csv(ROOT / "data/solana_daily.csv", index=False)
v = logvol(df["close_price"], 365)
tasks.append(dict(id="vol-solana-365", batch=2, pair="vol-hooli-yahoo", family="price-series",
    text="Here's a year of daily SOL/USD data in solana_daily.csv. Crypto trades every day, so annualise with 365 days "
         "a year. How volatile is it? Plot the close to sol.png.",
    fixtures={"files": ["data/solana_daily.csv"]}, check=vol_check(v, "sol.png")))

months = pd.period_range("2019-01", periods=60, freq="M")
nav = gbm(60, 10.0, 0.11, 12, mu=0.06)
df = pd.DataFrame({"month": months.strftime("%Y-%m"), "nav": nav.round(4)})
df.to_csv(ROOT / "data/fund_nav.csv", index=False)
v = logvol(df["nav"], 12); tot = df["nav"].iloc[-1] / df["nav"].iloc[0] - 1
tasks.append(dict(id="vol-fund-monthly", batch=1, family="price-series",
    text="fund_nav.csv lists the month-end NAV of the Northwind Balanced Fund for the last five years. Report the "
         "annualised volatility of the monthly returns and the total return, and chart the NAV as northwind_nav.png.",
    fixtures={"files": ["data/fund_nav.csv"]}, check=vol_check(v, "northwind_nav.png", tot)))

weeks = pd.date_range("2022-01-07", periods=104, freq="W-FRI")
lvl = gbm(104, 4200.0, 0.18, 52)
rows = []
for i in range(103, -1, -1):  # newest first, investing.com style
    chg = (lvl[i] / lvl[i - 1] - 1) * 100 if i else 0.0
    rows.append([weeks[i].strftime("%b %d, %Y"), f"{lvl[i]:,.2f}", f"{lvl[i]*0.995:,.2f}", f"{lvl[i]*1.01:,.2f}",
                 f"{lvl[i]*0.99:,.2f}", f"{rng.uniform(80, 200):.2f}M", f"{chg:.2f}%"])
with open(ROOT / "data/stoxx_weekly.csv", "w", newline="") as fh:
    wr = csv.writer(fh, quoting=csv.QUOTE_ALL); wr.writerow(["Date", "Price", "Open", "High", "Low", "Vol.", "Change %"]); wr.writerows(rows)
lv = np.round(lvl, 2)
v = logvol(lv, 52); tot = lv[-1] / lv[0] - 1
tasks.append(dict(id="vol-stoxx-investing", batch=2, pair="vol-fund-monthly", family="price-series",
    text="Weekly index levels for the Euro Stoxx 50 are in stoxx_weekly.csv (exported from Investing.com). Give the "
         "annualized volatility of the weekly returns, the total return over the period, and a chart (stoxx.png).",
    fixtures={"files": ["data/stoxx_weekly.csv"]}, check=vol_check(v, "stoxx.png", tot)))

# ---------------- regression ----------------
def ols(x, y):
    d = pd.DataFrame({"x": pd.to_numeric(x, errors="coerce"), "y": pd.to_numeric(y, errors="coerce")}).dropna()
    b, a = np.polyfit(d.x, d.y, 1); r2 = np.corrcoef(d.x, d.y)[0, 1] ** 2
    return b, a, r2

def reg_check(b, a, r2, png):
    return [{"answer_number": {"label": "slope", "value": round(b, 6), "rel_tolerance": 0.01}},
            {"answer_number": {"label": "intercept", "value": round(a, 6), "rel_tolerance": 0.01, "tolerance": 0.05}},
            {"answer_number": {"label": "R²|R\\^2|R2|r-squared|R squared", "value": round(r2, 6), "tolerance": 0.005}},
            {"file_is_png": png}]

n = 60; sqft = rng.uniform(600, 3200, n).round(0); beds = np.clip((sqft / 700).round(), 1, 5).astype(int)
price = (85 + 0.19 * sqft + rng.normal(0, 45, n)).round(1)
df = pd.DataFrame({"listing_id": np.arange(5001, 5001 + n), "sqft": sqft, "bedrooms": beds, "price_k": price})
df.to_csv(ROOT / "data/housing.csv", index=False)
tasks.append(dict(id="reg-housing-predict", batch=1, family="regression",
    text="Predict price_k from sqft in housing.csv using a simple linear regression. Report the slope, intercept and "
         "R^2, and save a scatter plot with the regression line as housing_fit.png.",
    fixtures={"files": ["data/housing.csv"]}, check=reg_check(*ols(df.sqft, df.price_k), "housing_fit.png")))

n = 45; eng = rng.uniform(1.0, 5.5, n).round(1); mpg = (48 - 5.1 * eng + rng.normal(0, 2.5, n)).round(1)
wt = (900 + 260 * eng + rng.normal(0, 80, n)).round(0)
df = pd.DataFrame({"model": [f"car-{i:02d}" for i in range(n)], "mpg": mpg, "engine_size_l": eng, "weight_kg": wt})
df.to_csv(ROOT / "data/cars.csv", index=False)
tasks.append(dict(id="reg-cars-change-with", batch=2, pair="reg-housing-predict", family="regression",
    text="How does fuel economy (mpg) change with engine size (engine_size_l) in cars.csv? Fit a line and give me the "
         "slope, intercept and R-squared, plus a scatter chart cars.png.",
    fixtures={"files": ["data/cars.csv"]}, check=reg_check(*ols(df.engine_size_l, df.mpg), "cars.png")))

n = 50; yrs = rng.uniform(0, 25, n).round(1); sal = (42 + 3.4 * yrs + rng.normal(0, 7, n)).round(1)
df = pd.DataFrame({"employee_id": np.arange(101, 101 + n), "years_experience": yrs, "salary_k": sal})
df.to_csv(ROOT / "data/salaries.csv", index=False)
tasks.append(dict(id="reg-salary-dependent", batch=1, family="regression",
    text="In salaries.csv, fit an ordinary least squares line with salary_k as the dependent variable and "
         "years_experience as the predictor. Report slope, intercept and R², and save the scatter plot as salary.png.",
    fixtures={"files": ["data/salaries.csv"]}, check=reg_check(*ols(df.years_experience, df.salary_k), "salary.png")))

n = 80; dates = pd.date_range("2024-01-01", periods=n).strftime("%Y-%m-%d"); tf = rng.uniform(10, 95, n).round(1)
kwh = (52 - 0.31 * tf + rng.normal(0, 3, n)).round(2)
tfs = [str(x) for x in tf]; ks = [str(x) for x in kwh]
for i in (4, 17, 33, 58): tfs[i] = "NA"
for i in (9, 41, 66): ks[i] = ""
pd.DataFrame({"date": dates, "temp_f": tfs, "kwh": ks}).to_csv(ROOT / "data/energy_use.csv", index=False)
tasks.append(dict(id="reg-energy-effect", batch=2, pair="reg-salary-dependent", family="regression",
    text="What is the effect of temp_f on kwh in energy_use.csv? A few readings are missing (NA or blank). Give the "
         "regression slope, intercept and R², plus a scatter plot energy.png.",
    fixtures={"files": ["data/energy_use.csv"]}, check=reg_check(*ols(tfs, ks), "energy.png")))

# ---------------- extract list ----------------
HEAD = ("<!doctype html>\n<html><head><meta charset='utf-8'><title>{t}</title></head>\n<body>\n<header><nav><ul>"
        "<li><a href=\"/\">Home</a></li><li><a href=\"/about.html\">About</a></li><li><a href=\"/help.html\">Help</a></li></ul></nav></header>\n")
FOOT = "<footer><p><a href=\"/terms.html\">Terms</a> · <a href=\"/privacy.html\">Privacy</a></p></footer>\n</body></html>\n"

tools = ["Cordless Drill 18V", "Impact Driver", "Orbital Sander", "Circular Saw", "Jigsaw", "Angle Grinder",
         "Heat Gun", "Rotary Tool Kit", "Laser Level"]
slug = lambda s: re.sub(r"[^a-z0-9]+", "-", s.lower()).strip("-")
rows = "\n".join(f"<tr><td><a href=\"/site/shop/p/{slug(t)}.html\">{t}</a></td><td>${49 + 13*i}.99</td><td>{'In stock' if i % 3 else 'Backorder'}</td></tr>" for i, t in enumerate(tools))
side = "<div class='sidebar'><h4>Departments</h4><ul>" + "".join(f"<li><a href='/site/shop/{d}.html'>{d.title()}</a></li>" for d in ["paint", "garden", "plumbing", "lighting"]) + "</ul></div>\n"
w("site/shop/tools.html", HEAD.format(t="Power Tools — Catalogue") + "<main>\n<h1>Power Tools</h1>\n" + side +
  "<table class='products'>\n<tr><th>Product</th><th>Price</th><th>Availability</th></tr>\n" + rows + "\n</table>\n</main>\n" + FOOT)
tasks.append(dict(id="extract-shop-table", batch=1, family="extract-list",
    text="Extract every product and its link from the hardware catalogue at {base_url}/site/shop/tools.html into "
         "tools.md (markdown). How many products are listed?",
    fixtures={"pages": ["site/shop/tools.html"]},
    check=[{"markdown_links_include": {"file": "tools.md", "links": [f"/site/shop/p/{slug(t)}.html" for t in tools], "min_links": 9}},
           {"file_contains": {"file": "tools.md", "text": tools}},
           {"answer_regex": r"(?<![\w./:$-])9(?![\w.%/-])"}]))

speakers = [("Amara Okafor", "Scaling event pipelines"), ("Lukas Brandt", "Rust in production"),
            ("Mei Tanaka", "Observability on a budget"), ("Diego Ramos", "Designing for failure"),
            ("Priya Nair", "Data contracts that work"), ("Sven Larsen", "Edge caching patterns"),
            ("Fatima Zahra", "Security reviews without tears")]
cards = "\n".join(f"<div class='card'><img src='/img/{slug(n)}.jpg' alt=''><h3>{n}</h3><p>{t}</p>"
                  f"<a class='btn' href='/site/events/speakers/{slug(n)}.html'>View profile</a></div>" for n, t in speakers)
w("site/events/speakers.html", HEAD.format(t="DevConf 2025 — Speakers") + "<main>\n<h1>Speakers</h1>\n<div class='grid'>\n" + cards + "\n</div>\n</main>\n" + FOOT)
tasks.append(dict(id="extract-speaker-cards", batch=2, pair="extract-shop-table", family="extract-list",
    text="Get the list of speakers from {base_url}/site/events/speakers.html with a link to each speaker's profile; "
         "write it to speakers.md and tell me how many speakers there are.",
    fixtures={"pages": ["site/events/speakers.html"]},
    check=[{"markdown_links_include": {"file": "speakers.md", "links": [f"/site/events/speakers/{slug(n)}.html" for n, _ in speakers], "min_links": 7}},
           {"file_contains": {"file": "speakers.md", "text": [n for n, _ in speakers]}},
           {"answer_regex": r"(?<![\w./:-])7(?![\w.%/-])"}]))

repos = ["tidewater", "quillpad", "lumen-cli", "orbitdb-lite", "sparrow-http", "kelp"]
lis = "\n".join(f"<li><a href='https://git.example.org/acme/{r}'>{r}</a> — maintained since {2015+i}</li>" for i, r in enumerate(repos))
w("site/dev/repos.html", HEAD.format(t="Acme Labs — Open-source repositories") + "<main>\n<h1>Our repositories</h1>\n<ol class='repos'>\n" + lis + "\n</ol>\n</main>\n" + FOOT)
tasks.append(dict(id="extract-repos", batch=1, family="extract-list",
    text="Make a markdown list of the open-source repositories (name and URL) listed at {base_url}/site/dev/repos.html, "
         "save it as repos.md and report the count.",
    fixtures={"pages": ["site/dev/repos.html"]},
    check=[{"markdown_links_include": {"file": "repos.md", "links": [f"https://git.example.org/acme/{r}" for r in repos], "min_links": 6}},
           {"file_contains": {"file": "repos.md", "text": repos}},
           {"answer_regex": r"(?<![\w./:-])6(?![\w.%/-])"}]))

posts = ["Why we moved to Postgres", "A year of remote work", "Our new design system", "Incident report: March outage",
         "Hiring our first SRE", "Lessons from a rewrite"]
arts = "\n".join(f"<article><h2><a href='/site/blog/posts/{slug(t)}.html'>{t}</a></h2><p class='meta'>2024-0{i+1}-15</p><p>Summary of the post.</p></article>" for i, t in enumerate(posts))
tags = ["engineering", "culture", "design", "ops", "hiring", "databases", "security", "frontend", "mobile", "news"]
side = "<div class='sidebar'><h3>Tags</h3><ul class='tags'>" + "".join(f"<li><a href='/site/blog/tags/{t}.html'>{t}</a></li>" for t in tags) + "</ul></div>"
w("site/blog/archive.html", HEAD.format(t="Engineering blog — Archive") + "<div class='layout'>\n<main>\n<h1>Archive</h1>\n<div class='posts'>\n" + arts + "\n</div>\n</main>\n" + side + "\n</div>\n" + FOOT)
tasks.append(dict(id="extract-blog-with-sidebar", batch=2, pair="extract-repos", family="extract-list",
    text="Collect all blog post titles with their links from {base_url}/site/blog/archive.html into posts.md; how many "
         "posts are there?",
    fixtures={"pages": ["site/blog/archive.html"]},
    check=[{"markdown_links_include": {"file": "posts.md", "links": [f"/site/blog/posts/{slug(t)}.html" for t in posts], "min_links": 6}},
           {"file_contains": {"file": "posts.md", "text": posts}},
           {"answer_regex": r"(?<![\w./:-])6(?![\w.%/-])"}]))

# ---------------- search & summarise ----------------
DOCS = {
 "micro-1": ("Microplastics found in most bottled and tap drinking water", ["Researchers found microplastics in most samples of bottled and tap drinking water they tested.", "Bottled water contained more microplastic particles on average than tap water.", "Most particles were fragments of polypropylene and PET from packaging.", "The health effects of ingesting microplastics remain uncertain."]),
 "micro-2": ("How treatment plants filter microplastics", ["Conventional water treatment removes a large share of microplastics from raw water.", "Coagulation and sand filtration capture most particles larger than ten micrometres.", "Nanoplastics are much harder to remove and are rarely measured.", "Utilities are starting to monitor microplastics in drinking water."]),
 "micro-3": ("WHO review of microplastics and human health", ["A WHO review found no clear evidence that microplastics in drinking water harm human health at current levels.", "The review called for standard methods to measure microplastic particles.", "It recommended reducing plastic pollution as a precaution.", "Data on the smallest particles were judged insufficient."]),
 "fluoride": ("The debate over fluoride in drinking water", ["Many cities add fluoride to drinking water to prevent tooth decay.", "Critics question the safety of water fluoridation at high doses.", "Public health agencies say community water fluoridation is safe and effective.", "Several towns have voted on whether to keep fluoride in their drinking water."]),
 "work-1": ("Four-day work week trial results", ["A large trial of the four-day work week found that most companies kept the schedule afterwards.", "Employees reported less burnout and better sleep.", "Revenue stayed broadly the same during the trial.", "Firms reorganised meetings to fit the shorter week."]),
 "work-2": ("Does a shorter working week raise productivity?", ["Economists debate whether a four-day week raises productivity per hour.", "Gains appear largest in office jobs with flexible tasks.", "Shift-based industries found the four-day week harder to staff.", "Some firms moved to a nine-day fortnight instead."]),
 "work-3": ("Governments test the four-day week", ["Several governments have funded four-day week pilots in the public sector.", "Pilots measured staff turnover, sick days and service quality.", "Early results showed lower sick leave.", "Unions support a shorter week without a cut in pay."]),
 "heat-1": ("Why cities are hotter: the urban heat island", ["The urban heat island effect makes cities several degrees warmer than the surrounding countryside.", "Asphalt and concrete absorb heat during the day and release it at night.", "Heat islands raise energy use for air conditioning.", "They increase health risks during heatwaves."]),
 "heat-2": ("Cool roofs and street trees reduce urban heat", ["Reflective cool roofs lower roof temperatures and indoor heat.", "Street trees cool neighbourhoods through shade and evaporation.", "Cities are mapping heat islands to target tree planting.", "Poorer neighbourhoods often have fewer trees and hotter streets."]),
 "heat-3": ("Measuring urban heat islands from satellites", ["Satellites measure land surface temperature across whole cities.", "Maps reveal urban heat island hotspots around industrial areas and car parks.", "Citizen sensors add air temperature data at street level.", "The maps guide heat action plans."]),
 "fast-1": ("Intermittent fasting and weight loss: what trials show", ["Trials of intermittent fasting show weight loss similar to ordinary calorie restriction.", "Time-restricted eating limits meals to an eight to ten hour window.", "Adherence is the main factor in long-term weight loss.", "Some people find fasting easier to sustain than counting calories."]),
 "fast-2": ("Metabolic effects of intermittent fasting", ["Intermittent fasting can improve insulin sensitivity in some adults.", "Effects on cholesterol are mixed across studies.", "Fasting is not recommended for pregnant women or people with eating disorders.", "Long-term studies are still scarce."]),
 "fast-3": ("Is the 5:2 diet effective?", ["The 5:2 diet is a form of intermittent fasting that restricts calories on two days a week.", "Studies find the 5:2 diet produces modest weight loss.", "Participants report hunger on fasting days at first.", "Results depend on overall diet quality."]),
 "misc-1": ("A beginner's guide to houseplants", ["Most houseplants need bright indirect light.", "Overwatering is the most common mistake.", "Check the soil before watering.", "Repot plants every two years."]),
 "misc-2": ("Training for your first marathon", ["Build mileage slowly over sixteen weeks.", "Long runs teach your body to burn fat.", "Rest days prevent injury.", "Practise your race-day nutrition."]),
}
for key, (title, sents) in DOCS.items():
    w(f"docs/{key}.md", f"---\ntitle: {json.dumps(title)}\nurl: '{{base_url}}/site/articles/{key}.html'\n---\n# {title}\n\n{sents[0]}\n")
    w(f"site/articles/{key}.html", HEAD.format(t=title) + f"<main>\n<h1>{title}</h1>\n" + "".join(f"<p>{s}</p>\n" for s in sents) + "</main>\n" + FOOT)
ALLDOCS = [f"docs/{k}.md" for k in DOCS]; ALLPAGES = [f"site/articles/{k}.html" for k in DOCS]

def research(id_, batch, text, out, prefix, word, pair=None, bad=("houseplant", "marathon")):
    t = dict(id=id_, batch=batch, family="search-summarise", text=text, fixtures={"documents": ALLDOCS, "pages": ALLPAGES},
             check=[{"markdown_links_include": {"file": out, "links": [f"/site/articles/{prefix}-{i}.html" for i in (1, 2, 3)]}},
                    {"file_contains": {"file": out, "text": [word]}},
                    {"file_not_contains": {"file": out, "text": list(bad)}},
                    {"answer_contains": out}])
    if pair: t["pair"] = pair
    tasks.append(t)

research("research-microplastics", 1, "Search the web for microplastics in drinking water, read the top 3 results and write a "
         "markdown report with a summary and the sources to microplastics.md.", "microplastics.md", "micro", "microplastic",
         bad=("houseplant", "fluorid"))
research("research-workweek-briefing", 2, "I need a briefing note on the four-day work week: find three good sources, read "
         "them and save the briefing with citations as workweek.md.", "workweek.md", "work", "four-day", pair="research-microplastics")
research("research-heat-islands", 1, "Research urban heat islands: look up 3 sources, read them, and write a summary report "
         "in markdown (heat_islands.md) that cites them.", "heat_islands.md", "heat", "heat island")
research("research-fasting-question", 2, "What does recent evidence say about intermittent fasting for weight loss? Look up "
         "a few articles, summarize them and save a markdown report to fasting.md with links.", "fasting.md", "fast",
         "fasting", pair="research-heat-islands")

# ---------------- sentiment ----------------
POS = ["Love the new workout plans, great app!", "The step tracking is accurate and the design is beautiful.",
       "Best fitness app I have used, highly recommend.", "Sync with my watch works perfectly now.",
       "Really helpful coaching tips, I'm very pleased.", "Five stars. Smooth and easy to use."]
NEG = ["The app crashes every time I open it.", "Terrible battery drain since the last update.",
       "Sync keeps failing, so frustrating.", "Subscription is overpriced for what you get.",
       "Customer support never replied to my emails.", "It stopped syncing with my watch after the update."]
NEU = ["Installed it yesterday, will see how it goes.", "Does it support swimming workouts?", "Switched from another tracker last week."]

def gen_posts(nweeks, start, p_pos_start, p_pos_end, pos, neg, neu, per_week=6):
    out = []
    for wk in range(nweeks):
        pp = p_pos_start + (p_pos_end - p_pos_start) * wk / (nweeks - 1)
        for j in range(per_week):
            u = R.random()
            lab = "neutral" if u < 0.15 else ("positive" if R.random() < pp else "negative")
            txt = R.choice({"positive": pos, "negative": neg, "neutral": neu}[lab])
            ts = start + pd.Timedelta(days=7 * wk + R.randint(0, 6), hours=R.randint(7, 22), minutes=R.randint(0, 59))
            out.append((ts, lab, txt))
    out.sort(key=lambda x: x[0]); return out

def trend(posts, freq):
    s = pd.Series([{"positive": 1, "negative": -1, "neutral": 0}[l] for _, l, _ in posts], index=[t for t, _, _ in posts])
    m = s.groupby(s.index.to_period(freq)).mean(); return np.polyfit(np.arange(len(m)), m.values, 1)[0]

ps = gen_posts(8, pd.Timestamp("2024-06-03"), 0.25, 0.85, POS, NEG, NEU)
recs = [{"review_id": 9000 + i, "created_at": t.strftime("%Y-%m-%dT%H:%M:%SZ"), "rating": {"positive": 5, "negative": 1, "neutral": 3}[l], "body": txt} for i, (t, l, txt) in enumerate(ps)]
w("data/fitbuddy_reviews.json", json.dumps({"app": "FitBuddy", "platform": "ios", "reviews": recs}, indent=1))
npos = sum(l == "positive" for _, l, _ in ps); nneg = sum(l == "negative" for _, l, _ in ps)
print("fitbuddy slope", trend(ps, "W"), npos, nneg)
tasks.append(dict(id="sentiment-app-reviews", batch=1, family="sentiment-trend",
    text="fitbuddy_reviews.json has App Store reviews of the FitBuddy app. Work out the sentiment of each review, plot the "
         "weekly average sentiment to fitbuddy.png, and tell me whether sentiment is improving or declining, with the "
         "counts of positive and negative reviews.",
    fixtures={"files": ["data/fitbuddy_reviews.json"]},
    check=[{"answer_contains": "improving"}, {"answer_not_contains": ["declining"]},
           {"answer_number": {"label": "positive", "value": npos, "tolerance": 0}},
           {"answer_number": {"label": "negative", "value": nneg, "tolerance": 0}}, {"file_is_png": "fitbuddy.png"}]))

TPOS = ["Just rode my Aurora e-bike to work, absolutely love it!", "The Aurora's battery range is amazing.", "Aurora customer service was brilliant today."]
TNEG = ["My Aurora e-bike broke down after two weeks.", "Aurora motor is so noisy, really disappointed.", "Still waiting on a replacement part for my Aurora, awful service."]
TNEU = ["Anyone riding an Aurora in the rain?", "Aurora announced a new colour for spring."]
ps = []
for mi, pp in enumerate([0.85, 0.7, 0.45, 0.2]):
    for j in range(12):
        u = R.random(); lab = "neutral" if u < 0.15 else ("positive" if R.random() < pp else "negative")
        ps.append((pd.Timestamp(2024, 2 + mi, 1 + 2 * j), lab, R.choice({"positive": TPOS, "negative": TNEG, "neutral": TNEU}[lab])))
with open(ROOT / "data/aurora_tweets.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["Date", "Tweet", "Likes"])
    for t, l, txt in ps: wr.writerow([t.strftime("%Y-%m-%d"), txt, R.randint(0, 40)])
npos = sum(l == "positive" for _, l, _ in ps); nneg = sum(l == "negative" for _, l, _ in ps)
print("aurora slope", trend(ps, "M"), npos, nneg)
tasks.append(dict(id="sentiment-tweets-monthly", batch=2, pair="sentiment-app-reviews", family="sentiment-trend",
    text="aurora_tweets.csv contains tweets about the Aurora e-bike. Track the sentiment month by month, chart it "
         "(aurora.png), say whether opinion is improving or declining, and count the positive and negative tweets.",
    fixtures={"files": ["data/aurora_tweets.csv"]},
    check=[{"answer_contains": "declining"}, {"answer_not_contains": ["improving"]},
           {"answer_number": {"label": "positive", "value": npos, "tolerance": 0}},
           {"answer_number": {"label": "negative", "value": nneg, "tolerance": 0}}, {"file_is_png": "aurora.png"}]))

# ---------------- JSON API ----------------
def paginate(base, recs, size, itemkey, nextfn, extra=lambda i, n: {}):
    pages = [recs[i:i + size] for i in range(0, len(recs), size)]
    names = []
    for i, chunk in enumerate(pages):
        body = {itemkey: chunk} if itemkey else {}
        body.update(extra(i, len(pages)))
        nextfn(body, i, len(pages))
        name = f"{base}/page-{i+1}.json"; w(name, json.dumps(body, indent=1)); names.append(name)
    return names

drivers = ["amy", "bo", "carlos", "dara", "eli"]
trips = [{"trip_id": 70000 + i, "driver": R.choice(drivers), "distance_km": round(R.uniform(1.5, 48), 1), "fare": round(R.uniform(6, 90), 2)} for i in range(57)]
def nx_abs(body, i, n, base="site/api/fleet/trips"):
    body["next"] = f"{{base_url}}/{base}/page-{i+2}.json" if i + 1 < n else None
pages = paginate("site/api/fleet/trips", trips, 20, "results", nx_abs, lambda i, n: {"count": 57})
exp = pd.DataFrame(trips).groupby("driver").distance_km.sum().round(2).to_dict()
top = max(exp, key=exp.get); print("trips", exp, top)
tasks.append(dict(id="api-trips-total", batch=1, family="json-api",
    text="The fleet API at {base_url}/site/api/fleet/trips/page-1.json is paginated. Compute the total distance_km per "
         "driver, write it to driver_km.json, and tell me which driver drove the most.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "driver_km.json", "value": exp, "tolerance": 0.001}}, {"answer_contains": top}]))

countries = ["DE", "FR", "NL", "ES", "IT"]
orders = [{"order_id": f"SO-{3000+i}", "country": R.choice(countries), "total": round(R.uniform(15, 400), 2), "currency": "EUR"} for i in range(45)]
def nx_pag(body, i, n):
    body["pagination"] = {"page": i + 1, "pages": n, "next": f"page-{i+2}.json" if i + 1 < n else None}
pages = paginate("site/api/store/orders", orders, 15, "orders", nx_pag)
exp = pd.DataFrame(orders).groupby("country").total.sum().round(2).to_dict(); top = max(exp, key=exp.get); print("orders", exp, top)
tasks.append(dict(id="api-orders-nested", batch=2, pair="api-trips-total", family="json-api",
    text="Get the sum of the total field per country across all pages of {base_url}/site/api/store/orders/page-1.json "
         "(it is paginated). Save the per-country totals to country_revenue.json and tell me the top country.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "country_revenue.json", "value": exp, "tolerance": 0.001}}, {"answer_contains": top}]))

genres = ["fantasy", "history", "mystery", "science"]
books = [{"isbn": f"978-{R.randint(10**9, 10**10-1)}", "title": f"Book {i}", "genre": R.choice(genres), "rating": round(R.uniform(2.5, 5.0), 1)} for i in range(38)]
def nx_links(body, i, n):
    body["links"] = {"self": f"page-{i+1}.json", "next": f"page-{i+2}.json" if i + 1 < n else None}
pages = paginate("site/api/library/books", books, 10, "items", nx_links)
exp = pd.DataFrame(books).groupby("genre").rating.mean().round(2).to_dict(); top = max(exp, key=exp.get); print("books", exp, top)
tasks.append(dict(id="api-book-ratings", batch=1, family="json-api",
    text="What's the average rating for each genre in the book API {base_url}/site/api/library/books/page-1.json? Follow "
         "all pages, save the result to genre_ratings.json and name the best-rated genre.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "genre_ratings.json", "value": exp, "tolerance": 0.01}}, {"answer_contains": top}]))

sev = ["critical", "info", "warning"]
events = [{"event_id": i, "severity": R.choices(sev, weights=[1, 5, 3])[0], "host": f"web-{R.randint(1,4)}"} for i in range(64)]
def nx_rel(body, i, n):
    body["next_page"] = f"page-{i+2}.json" if i + 1 < n else None
pages = paginate("site/api/monitor/events", events, 25, "data", nx_rel)
exp = pd.DataFrame(events).groupby("severity").size().to_dict(); top = max(exp, key=exp.get); print("events", exp, top)
tasks.append(dict(id="api-event-counts", batch=2, pair="api-book-ratings", family="json-api",
    text="How many events of each severity are there in the monitoring API {base_url}/site/api/monitor/events/page-1.json "
         "(paginated)? Save the counts to severity_counts.json and tell me the most frequent severity.",
    fixtures={"pages": pages},
    check=[{"json_equals": {"file": "severity_counts.json", "value": {k: int(v) for k, v in exp.items()}}}, {"answer_contains": top}]))

# ---------------- convert & validate ----------------
def invalid_check(name, n):
    w(f"checks/{name}.py", f'''"""The invalid-rows CSV has {n} data rows and a column for the reason."""
import csv, glob, os

def check(answer, outputs_dir, fixtures_dir):
    inputs = {{os.path.basename(p) for p in glob.glob(os.path.join(str(fixtures_dir), "*"))}}
    for path in sorted(glob.glob(os.path.join(str(outputs_dir), "*.csv"))):
        if os.path.basename(path) in inputs:
            continue
        with open(path, newline="", encoding="utf-8") as fh:
            rows = list(csv.DictReader(fh))
        cols = [c.lower() for c in (rows[0].keys() if rows else [])]
        if len(rows) == {n} and any(k in c for c in cols for k in ("error", "reason", "message", "problem")):
            return True, f"{{os.path.basename(path)}}: {n} rows with a reason column"
        return False, f"{{os.path.basename(path)}}: {{len(rows)}} rows, columns {{cols}}"
    return False, "no invalid-rows CSV in outputs"
''')
    return {"python": f"checks/{name}.py"}

emp_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Employee", "type": "object",
    "required": ["id", "name", "email", "department", "salary"],
    "properties": {"id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "minLength": 1},
        "email": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[a-z]{2,}$"},
        "department": {"type": "string", "enum": ["engineering", "sales", "finance", "hr"]},
        "salary": {"type": "number", "minimum": 0}, "start_date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
        "remote": {"type": "boolean"}}}
w("data/employee_schema.json", json.dumps(emp_schema, indent=2))
names = ["Alice", "Bruno", "Chen", "Dina", "Emeka", "Farah", "Goran", "Hana", "Ivo", "Jade", "Kofi", "Lena", "Mateo", "Nia", "Omar", "Pia", "Quinn", "Rosa", "Sami", "Tara"]
rows = []
for i, n in enumerate(names, 1):
    rows.append({"id": str(i), "name": n, "email": f"{n.lower()}@corp.example", "department": ["engineering", "sales", "finance", "hr"][i % 4],
                 "salary": str(48000 + 1500 * i), "start_date": f"20{10 + i % 14}-0{1 + i % 9}-1{i % 10}", "remote": ["true", "false"][i % 2]})
rows[2]["email"] = "chen.corp.example"; rows[6]["department"] = "marketing"; rows[9]["salary"] = "-1200"
rows[12]["name"] = ""; rows[15]["start_date"] = "03/04/2019"
with open(ROOT / "data/employees.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
import jsonschema
def typed_emp(r):
    d = {"id": int(r["id"]), "name": r["name"], "email": r["email"], "department": r["department"], "salary": float(r["salary"]), "start_date": r["start_date"], "remote": r["remote"] == "true"}
    if not d["name"]: del d["name"]
    return d
nvalid = sum(jsonschema.Draft202012Validator(emp_schema).is_valid(typed_emp(r)) for r in rows); print("employees valid", nvalid)
tasks.append(dict(id="convert-employees", batch=1, family="convert-validate",
    text="Validate employees.csv against employee_schema.json, convert the rows that pass to employees.json and list the "
         "failures with the reason in employee_errors.csv. How many rows failed?",
    fixtures={"files": ["data/employees.csv", "data/employee_schema.json"]},
    check=[{"json_valid": {"file": "employees.json", "schema": {"type": "array", "minItems": nvalid, "maxItems": nvalid, "items": emp_schema}}},
           invalid_check("invalid_employees", 20 - nvalid),
           {"answer_number": {"label": "fail|invalid|reject", "value": 20 - nvalid, "tolerance": 0, "window": 40}}]))

item_schema = {"type": "object", "required": ["sensor_id", "timestamp", "temp_c"],
    "properties": {"sensor_id": {"type": "string", "pattern": "^S[0-9]{3}$"}, "timestamp": {"type": "string", "minLength": 16},
                   "temp_c": {"type": "number", "minimum": -40, "maximum": 60}, "humidity": {"type": "integer", "minimum": 0, "maximum": 100}}}
arr_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "title": "Sensor readings file", "type": "array", "items": item_schema}
w("data/readings.schema.json", json.dumps(arr_schema, indent=2))
rows = [{"sensor_id": f"S{100 + i % 5}", "timestamp": f"2024-07-0{1 + i % 9}T{10 + i % 12}:00:00", "temp_c": f"{18 + (i * 7) % 15 + 0.5:.1f}", "humidity": str(40 + i % 30)} for i in range(18)]
rows[3]["temp_c"] = "hot"; rows[8]["sensor_id"] = "X12"; rows[11]["humidity"] = "140"; rows[14]["temp_c"] = ""
with open(ROOT / "data/sensors.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
tasks.append(dict(id="convert-array-schema", batch=2, pair="convert-employees", family="convert-validate",
    text="Convert sensors.csv into readings.json so that the file validates against readings.schema.json (a JSON Schema "
         "for the whole file); put the rows that can't be included in bad_readings.csv with why, and say how many were dropped.",
    fixtures={"files": ["data/sensors.csv", "data/readings.schema.json"]},
    check=[{"json_valid": {"file": "readings.json", "schema": dict(arr_schema, minItems=14, maxItems=14)}},
           invalid_check("invalid_sensors", 4),
           {"answer_number": {"label": "drop|invalid|reject|fail", "value": 4, "tolerance": 0, "window": 40}}]))

book_schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "additionalProperties": False,
    "required": ["isbn", "title", "year", "price"],
    "properties": {"isbn": {"type": "string", "pattern": "^97[89][0-9]{10}$"}, "title": {"type": "string", "minLength": 1},
                   "year": {"type": "integer", "minimum": 1450, "maximum": 2025}, "price": {"type": "number", "exclusiveMinimum": 0}}}
w("data/book.schema.json", json.dumps(book_schema, indent=2))
rows = [{"isbn": f"978{1000000000 + 7919 * i}", "title": f"Volume {i}", "year": str(1990 + i), "price": f"{9.5 + i:.2f}", "internal_note": R.choice(["", "reprint", "check cover"])} for i in range(16)]
rows[1]["isbn"] = "12345"; rows[5]["year"] = "2031"; rows[10]["price"] = "0"
with open(ROOT / "data/books.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
tasks.append(dict(id="convert-strict-schema", batch=1, family="convert-validate",
    text="Convert books.csv to books.json following book.schema.json exactly (no extra fields); rows that violate the "
         "schema go to rejected_books.csv with the reason. How many were rejected?",
    fixtures={"files": ["data/books.csv", "data/book.schema.json"]},
    check=[{"json_valid": {"file": "books.json", "schema": {"type": "array", "minItems": 13, "maxItems": 13, "items": book_schema}}},
           invalid_check("invalid_books", 3),
           {"answer_number": {"label": "invalid|reject", "value": 3, "tolerance": 0, "window": 40}}]))

inv_schema = {"type": "object", "required": ["sku", "name", "qty", "unit_price"],
    "properties": {"sku": {"type": "string", "pattern": "^[A-Z]{2}[0-9]{4}$"}, "name": {"type": "string", "minLength": 2},
                   "qty": {"type": "integer", "minimum": 0}, "unit_price": {"type": "number", "minimum": 0}}}
w("data/inventory_schema.json", json.dumps(inv_schema, indent=2))
rows = [[f"AB{1000 + i}", f"Part {i}", str(i * 3), f"{2.5 + i:.2f}"] for i in range(15)]
rows[4][2] = "-2"; rows[9][0] = "ab99"
with open(ROOT / "data/inventory_eu.csv", "w", newline="") as fh:
    wr = csv.writer(fh, delimiter=";"); wr.writerow(["sku", "name", "qty", "unit_price"]); wr.writerows(rows)
tasks.append(dict(id="convert-semicolon", batch=2, pair="convert-strict-schema", family="convert-validate",
    text="inventory_eu.csv is a semicolon-separated export from our ERP. Convert it to inventory.json, validating against "
         "inventory_schema.json, and write the invalid lines plus the reason to inventory_invalid.csv. How many were invalid?",
    fixtures={"files": ["data/inventory_eu.csv", "data/inventory_schema.json"]},
    check=[{"json_valid": {"file": "inventory.json", "schema": {"type": "array", "minItems": 13, "maxItems": 13, "items": inv_schema}}},
           invalid_check("invalid_inventory", 2),
           {"answer_number": {"label": "invalid", "value": 2, "tolerance": 0, "window": 40}}]))

# ---------------- program from tests ----------------
shutil.copyfile("/work/main/benchmarks/suites/core/checks/run_tests.py", ROOT / "checks/run_tests.py")
w("data/test_textutils.py", '''from textutils import is_palindrome, word_count


def test_palindrome():
    assert is_palindrome("A man, a plan, a canal: Panama")
    assert not is_palindrome("hello")


def test_word_count():
    assert word_count("the cat and the hat") == {"the": 2, "cat": 1, "and": 1, "hat": 1}
''')
tasks.append(dict(id="program-textutils", batch=1, family="program-from-tests",
    text="Write textutils.py so that the tests in test_textutils.py pass, and save it in outputs.",
    fixtures={"files": ["data/test_textutils.py"]}, check=[{"file_exists": "textutils.py"}, {"python": "checks/run_tests.py"}]))
w("data/test_fizz.py", '''import pytest

from fizz import fizzbuzz


def test_first_fifteen():
    assert fizzbuzz(15)[-1] == "FizzBuzz"
    assert fizzbuzz(5) == ["1", "2", "Fizz", "4", "Buzz"]


def test_bad_argument():
    with pytest.raises(TypeError):
        fizzbuzz("3")
''')
tasks.append(dict(id="program-pytest-style", batch=2, pair="program-textutils", family="program-from-tests",
    text="Implement fizz.py so the pytest tests in test_fizz.py pass; write it to outputs/fizz.py.",
    fixtures={"files": ["data/test_fizz.py"]}, check=[{"file_exists": "fizz.py"}, {"python": "checks/run_tests.py"}]))
w("data/test_cipher.py", '''from cipher import caesar_decrypt, caesar_encrypt


def test_encrypt():
    assert caesar_encrypt("Hello, World!", 3) == "Khoor, Zruog!"


def test_round_trip():
    assert caesar_decrypt(caesar_encrypt("attack at dawn", 13), 13) == "attack at dawn"
''')
tasks.append(dict(id="program-caesar", batch=1, family="program-from-tests",
    text="Here are unit tests (test_cipher.py) for a Caesar cipher module. Implement cipher.py so they pass and save it in outputs/.",
    fixtures={"files": ["data/test_cipher.py"]}, check=[{"file_exists": "cipher.py"}, {"python": "checks/run_tests.py"}]))
w("data/test_rle.py", '''from rle import rle_decode, rle_encode


def test_encode():
    assert rle_encode("aaabccdddd") == "a3b1c2d4"


def test_round_trip():
    for s in ["", "x", "zzzzzz", "abcabc"]:
        assert rle_decode(rle_encode(s)) == s
''')
tasks.append(dict(id="program-rle", batch=2, pair="program-caesar", family="program-from-tests",
    text="Make test_rle.py pass: implement the run-length encoding module rle.py (put it in outputs).",
    fixtures={"files": ["data/test_rle.py"]}, check=[{"file_exists": "rle.py"}, {"python": "checks/run_tests.py"}]))

# ---------------- outside every family ----------------
REFUSE = {"answer_contains_any": ["could not", "cannot", "can't", "unable", "not able", "outside"]}
w("data/letter.txt", "Dear Ms Moreau,\n\nThank you for your order of 12 May. The parcel will ship on Monday.\n\nKind regards,\nJon\n")
tasks.append(dict(id="other-translate", batch=1, family="none", out_of_scope=True,
    text="Translate letter.txt into French and save the translation as letter_fr.txt.",
    fixtures={"files": ["data/letter.txt"]}, check=[REFUSE]))
with open(ROOT / "data/income.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["state", "county", "median_income"])
    for s in ["OH", "PA", "MI"]:
        for c in range(4): wr.writerow([s, f"{s}-county-{c}", R.randint(41000, 88000)])
tasks.append(dict(id="other-groupby-chart", batch=1, family="none", out_of_scope=True,
    text="Using income.csv, compute the median household income per state and save a bar chart as income_by_state.png.",
    fixtures={"files": ["data/income.csv"]}, check=[REFUSE]))
tasks.append(dict(id="other-linkcheck", batch=1, family="none", out_of_scope=True,
    text="Check which product links on {base_url}/site/shop/tools.html are broken (return an HTTP error) and list the broken ones in broken_links.md.",
    fixtures={"pages": ["site/shop/tools.html"]},
    check=[{"answer_contains_any": ["could not", "cannot", "unable", "broken", "404"]},
           {"answer_not_contains": ["wrote them as a markdown list"]}]))

order = sorted(tasks, key=lambda t: t["batch"])
def declared(tasks: list) -> list:
    """The tasks with what the simulated model needs (declarations.yaml, capabilities from ../core)."""
    path = ROOT / "declarations.yaml"
    decl = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return [{**t, **decl.get(t["id"], {})} for t in tasks]


suite = {"name": "variants", "description": "Robustness variants of the core families (written independently).", "capabilities_from": "core", "tasks": declared(order)}
suite = json.loads(json.dumps(suite, default=lambda o: o.item()))
(ROOT / "suite.yaml").write_text(yaml.safe_dump(suite, sort_keys=False, allow_unicode=True, width=120))
print(len(tasks), "tasks")
