"""Generate the 'variants3' suite (seeded): a third independent hand on the core families.

Plain rewordings and batch-2 changes of one parameter (a period of the series, another operation or
group, a computed field, a grand total, another number of sources, extra statistics such as maximum
drawdown, correlation or a prediction), given sentiment labels, nested lists, report folders, classes
and validators written from tests, and three tasks outside every family that share its words
(comparing files, multiple regression, external links). Expected values are computed here with
numpy/pandas/jsonschema, never by running the model.
Regenerate with `python benchmarks/suites/variants3/make_variants3.py`.
"""
import csv, json, math, random, shutil
from pathlib import Path
import numpy as np, pandas as pd, yaml, jsonschema

ROOT = Path(__file__).parent
RUN_TESTS = (ROOT / "checks" / "run_tests.py").read_text(encoding="utf-8")
for d in ("data", "site", "docs", "checks"):
    shutil.rmtree(ROOT / d, ignore_errors=True)
    (ROOT / d).mkdir(parents=True)
(ROOT / "checks" / "run_tests.py").write_text(RUN_TESTS, encoding="utf-8")
rng = np.random.default_rng(333); R = random.Random(333)
tasks = []
REFUSE = ["could not", "cannot", "can't", "unable", "not able", "outside", "not supported", "don't know how"]

def w(rel, text):
    p = ROOT / rel; p.parent.mkdir(parents=True, exist_ok=True); p.write_text(text, encoding="utf-8")
def T(**kw): tasks.append(kw)
def logvol(p, per=252):
    r = np.diff(np.log(np.asarray(p, float))); return float(np.std(r, ddof=1) * math.sqrt(per))
def gbm(n, s0, sig, per=252, mu=0.06):
    r = rng.normal(mu / per, sig / math.sqrt(per), n - 1)
    return s0 * np.exp(np.concatenate([[0], np.cumsum(r)]))
def volc(v): return {"answer_number": {"label": "volatil", "value": round(v, 6), "rel_tolerance": 0.02}}

# ---------------- price series ----------------
d = pd.bdate_range("2023-01-02", periods=252)
p = gbm(252, 41.3, 0.33).round(2)
pd.DataFrame({"day": d.strftime("%Y-%m-%d"), "close_usd": p}).to_csv(ROOT / "data/wayne.csv", index=False)
T(id="px-wayne-plain", batch=1, family="price-series",
  text="What was the annualized volatility of Wayne Enterprises stock in 2023? The daily closes are in wayne.csv. Save a plot of the share price as wayne_price.png.",
  fixtures={"files": ["data/wayne.csv"]}, check=[volc(logvol(p)), {"file_is_png": "wayne_price.png"}])

d = pd.bdate_range("2023-01-02", periods=252)
p = np.concatenate([gbm(126, 120, 0.15), ]); p2 = p[-1] * np.exp(np.cumsum(rng.normal(0, 0.55 / math.sqrt(252), 126)))
p = np.concatenate([p, p2]).round(2)
df = pd.DataFrame({"Date": d.strftime("%Y-%m-%d"), "Close": p}); df.to_csv(ROOT / "data/cyberdyne.csv", index=False)
h2 = df[df.Date >= "2023-07-01"].Close
T(id="px-cyberdyne-h2", batch=2, pair="px-wayne-plain", family="price-series",
  text="cyberdyne.csv has Cyberdyne Systems' daily closing prices for 2023. Compute the annualised volatility for the second half of the year only (from 1 July 2023 onwards) and chart the price over that period as cyberdyne_h2.png.",
  fixtures={"files": ["data/cyberdyne.csv"]}, check=[volc(logvol(h2)), {"file_is_png": "cyberdyne_h2.png"}])

d = pd.bdate_range("2022-06-01", periods=300)
p = gbm(300, 64, 0.29, mu=-0.1).round(2)
o = (p * (1 + rng.normal(0, 0.004, 300))).round(2)
df = pd.DataFrame({"Date": d.strftime("%Y-%m-%d"), "Open": o, "High": np.maximum(o, p) + 0.3, "Low": np.minimum(o, p) - 0.3, "Close": p, "Volume": rng.integers(1e5, 9e5, 300)})
df.to_csv(ROOT / "data/stark.csv", index=False)
tot = p[-1] / p[0] - 1; peak = np.maximum.accumulate(p); mdd = float(((p - peak) / peak).min())
T(id="px-stark-drawdown", batch=1, family="price-series",
  text="Using stark.csv (daily OHLCV for Stark Industries), report the annualised volatility, the total return and the maximum drawdown, and save a closing-price chart as stark.png.",
  fixtures={"files": ["data/stark.csv"]},
  check=[volc(logvol(p)), {"answer_number": {"label": "total return", "value": round(tot, 6), "tolerance": 0.002}},
         {"answer_number": {"label": "drawdown", "value": round(mdd, 6), "tolerance": 0.003}}, {"file_is_png": "stark.png"}])

d = pd.bdate_range("2023-02-01", periods=230)
p = gbm(230, 18.5, 0.47).round(2)
pd.DataFrame({"date": d.strftime("%m/%d/%Y"), "price": p}).to_csv(ROOT / "data/oscorp.csv", index=False)
tot = p[-1] / p[0] - 1
T(id="px-oscorp-usdate", batch=2, pair="px-stark-drawdown", family="price-series",
  text="oscorp.csv contains Oscorp's daily share price (US-style dates). Tell me the annualized volatility and the total return over the whole file, and save a line chart of the price as oscorp_line.png.",
  fixtures={"files": ["data/oscorp.csv"]},
  check=[volc(logvol(p)), {"answer_number": {"label": "total return", "value": round(tot, 6), "tolerance": 0.002}}, {"file_is_png": "oscorp_line.png"}])

# ---------------- regression ----------------
def fit(x, y):
    x = np.asarray(x, float); y = np.asarray(y, float)
    b, a = np.polyfit(x, y, 1); r = np.corrcoef(x, y)[0, 1]; return float(b), float(a), float(r * r), float(r)
def regc(b, a, r2, png):
    return [{"answer_number": {"label": "slope", "value": round(b, 6), "rel_tolerance": 0.01}},
            {"answer_number": {"label": "intercept", "value": round(a, 6), "rel_tolerance": 0.01, "tolerance": 0.05}},
            {"answer_number": {"label": "R²|R\\^2|R2|r-squared|R squared", "value": round(r2, 6), "tolerance": 0.005}},
            {"file_is_png": png}]
n = 60
tv = rng.uniform(10, 300, n).round(1); radio = rng.uniform(0, 50, n).round(1); online = rng.uniform(5, 80, n).round(1)
rev = (4 + 0.045 * tv + 0.19 * radio + 0.03 * online + rng.normal(0, 1.4, n)).round(2)
pd.DataFrame({"tv": tv, "radio": radio, "online": online, "revenue": rev}).to_csv(ROOT / "data/advertising.csv", index=False)
b, a, r2, r = fit(radio, rev)
T(id="reg-radio-predictor", batch=1, family="regression",
  text="Is radio spend a good predictor of revenue? Using advertising.csv, fit a simple linear regression of revenue on radio and report the slope, intercept and R². Save a scatter plot with the regression line as radio_fit.png.",
  fixtures={"files": ["data/advertising.csv"]}, check=regc(b, a, r2, "radio_fit.png"))
b, a, r2, r = fit(online, rev)
T(id="reg-online-predict", batch=2, pair="reg-radio-predictor", family="regression",
  text="From advertising.csv, regress revenue on online spend (simple linear regression). Give the slope, intercept and R², and what revenue the model predicts when online spend is 50. Scatter plot with the line: online_fit.png.",
  fixtures={"files": ["data/advertising.csv"]},
  check=regc(b, a, r2, "online_fit.png") + [{"answer_number": {"label": "predict|50", "value": round(a + 50 * b, 4), "rel_tolerance": 0.01, "window": 120}}])

n = 45
dist = rng.uniform(0.5, 25, n).round(2); mins = (8 + 2.7 * dist + rng.normal(0, 4, n)).round(1)
dfd = pd.DataFrame({"order_id": range(1001, 1001 + n), "distance_km": dist, "delivery_minutes": mins})
dfd.to_csv(ROOT / "data/deliveries.csv", index=False)
b, a, r2, r = fit(dist, mins)
T(id="reg-delivery-corr", batch=1, family="regression",
  text="deliveries.csv logs our food deliveries. How does delivery_minutes relate to distance_km? Fit a line, report the slope, intercept, R² and the correlation coefficient r, and save the scatter with the fitted line to delivery.png.",
  fixtures={"files": ["data/deliveries.csv"]},
  check=regc(b, a, r2, "delivery.png") + [{"answer_number": {"label": "correlation|\\br\\b|pearson", "value": round(r, 6), "tolerance": 0.005}}])
n = 50
age = rng.integers(25, 80, n); bp = (95 + 0.62 * age + rng.normal(0, 6, n)).round(0).astype(int)
pd.DataFrame({"patient": [f"P{i:03d}" for i in range(n)], "age_years": age, "systolic_bp": bp}).to_csv(ROOT / "data/bp_study.csv", index=False)
b, a, r2, r = fit(age, bp)
T(id="reg-bp-age", batch=2, pair="reg-delivery-corr", family="regression",
  text="In bp_study.csv, how much does systolic_bp rise per year of age_years? Give the least-squares slope and intercept, the R², and a scatter chart bp_age.png with the fitted line.",
  fixtures={"files": ["data/bp_study.csv"]}, check=regc(b, a, r2, "bp_age.png"))

# ---------------- page extraction ----------------
HDR = "<header><nav><a href='/'>Home</a> <a href='/about.html'>About</a> <a href='/contact.html'>Contact us</a></nav></header>"
FTR = "<footer><a href='/privacy.html'>Privacy</a> · <a href='https://facebook.com/example'>Facebook</a></footer>"
def page(title, body): return f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head><body>{HDR}<main><h1>{title}</h1>{body}</main>{FTR}</body></html>"
recipes = {"Breakfast": [("Fluffy Pancakes", "pancakes"), ("Shakshuka", "shakshuka"), ("Overnight Oats", "oats")],
           "Mains": [("Chicken Tikka Masala", "tikka"), ("Mushroom Risotto", "risotto"), ("Beef Bourguignon", "bourguignon"), ("Pad Thai", "pad-thai")],
           "Desserts": [("Lemon Tart", "lemon-tart"), ("Chocolate Mousse", "mousse")]}
body = "<ul class='categories'>" + "".join(f"<li><strong>{c}</strong><ul>" + "".join(f"<li><a href='/site/cook/r/{s}.html'>{nm}</a> <em>({R.randint(15,90)} min)</em></li>" for nm, s in items) + "</ul></li>" for c, items in recipes.items()) + "</ul>"
w("site/cook/recipes.html", page("Our recipes", body))
allr = [x for v in recipes.values() for x in v]
T(id="ext-nested-recipes", batch=1, family="page-list",
  text="Extract all the recipes (name and link) from {base_url}/site/cook/recipes.html into recipes.md as a markdown list. How many recipes are there in total?",
  fixtures={"pages": ["site/cook/recipes.html"]},
  check=[{"markdown_links_include": {"file": "recipes.md", "links": [f"/site/cook/r/{s}.html" for _, s in allr], "min_links": len(allr)}},
         {"file_contains": {"file": "recipes.md", "text": [nm for nm, _ in allr]}},
         {"file_not_contains": {"file": "recipes.md", "text": ["privacy.html", "facebook"]}},
         {"answer_regex": f"(?<![\\w./:$-]){len(allr)}(?![\\w.%/-])"}])
eps = [("Episode 12: Why Sleep Matters", "ep12"), ("Episode 11: The Gut Microbiome", "ep11"), ("Episode 10: Running Myths", "ep10"),
       ("Episode 9: Stress and the Brain", "ep9"), ("Episode 8: Eating for Longevity", "ep8")]
body = "".join(f"<div class='episode'><h2>{t}</h2><p>{R.choice(['A chat with a researcher.', 'Listener questions answered.', 'We dig into the science.'])}</p><a class='btn' href='../podcast/{s}.html'>Listen</a></div>" for t, s in eps)
w("site/health/episodes.html", page("Healthy Minds podcast", body))
T(id="ext-podcast-listen", batch=2, pair="ext-nested-recipes", family="page-list",
  text="Make a markdown list of the podcast episodes on {base_url}/site/health/episodes.html, each episode title linked to its page, and save it to episodes.md. How many episodes are listed?",
  fixtures={"pages": ["site/health/episodes.html"]},
  check=[{"markdown_links_include": {"file": "episodes.md", "links": [f"/site/podcast/{s}.html" for _, s in eps], "min_links": 5}},
         {"file_contains": {"file": "episodes.md", "text": [t for t, _ in eps]}},
         {"answer_regex": "(?<![\\w./:$-])5(?![\\w.%/-])"}])
jobs = [("Senior Data Engineer", "Berlin", "data-eng"), ("Product Designer", "Remote", "designer"), ("Site Reliability Engineer", "Lisbon", "sre"),
        ("Customer Success Manager", "Dublin", "csm"), ("Frontend Developer", "Remote", "frontend"), ("Finance Analyst", "Berlin", "finance")]
body = "<p>We are hiring! <a href='/site/careers/benefits.html'>See our benefits</a>.</p>" + "".join(f"<article class='job'><h3><a href='jobs/{s}.html'>{t}</a></h3><p>Location: {l}</p></article>" for t, l, s in jobs)
w("site/careers/index.html", page("Careers at Globex", body))
T(id="ext-jobs-relative", batch=1, family="page-list",
  text="Please list every open position on our careers page {base_url}/site/careers/index.html with a link to the job ad, as markdown in open_roles.md, and tell me how many openings there are.",
  fixtures={"pages": ["site/careers/index.html"]},
  check=[{"markdown_links_include": {"file": "open_roles.md", "links": [f"/site/careers/jobs/{s}.html" for *_, s in jobs], "min_links": 6}},
         {"file_contains": {"file": "open_roles.md", "text": [t for t, *_ in jobs]}},
         {"file_not_contains": {"file": "open_roles.md", "text": ["benefits.html"]}},
         {"answer_regex": "(?<![\\w./:$-])6(?![\\w.%/-])"}])
papers = [("Attention Is All You Need", "https://arxiv.org/abs/1706.03762"), ("Deep Residual Learning for Image Recognition", "https://arxiv.org/abs/1512.03385"),
          ("Adam: A Method for Stochastic Optimization", "https://arxiv.org/abs/1412.6980"), ("Dropout: A Simple Way to Prevent Overfitting", "https://jmlr.org/papers/v15/srivastava14a.html"),
          ("Batch Normalization", "https://arxiv.org/abs/1502.03167"), ("Generative Adversarial Networks", "https://arxiv.org/abs/1406.2661"),
          ("BERT: Pre-training of Deep Bidirectional Transformers", "https://arxiv.org/abs/1810.04805")]
body = "<ol class='reading'>" + "".join(f"<li><a href='{u}'>{t}</a> — {R.choice(['classic', 'must read', 'foundational'])}</li>" for t, u in papers) + "</ol><p>Suggested by <a href='/site/lab/people.html'>lab members</a>.</p>"
w("site/lab/reading.html", page("Lab reading list", body))
T(id="ext-reading-list", batch=2, pair="ext-jobs-relative", family="page-list",
  text="Our lab keeps a reading list at {base_url}/site/lab/reading.html. Put the papers and their links into reading_list.md and tell me the number of papers.",
  fixtures={"pages": ["site/lab/reading.html"]},
  check=[{"markdown_links_include": {"file": "reading_list.md", "links": [u for _, u in papers], "min_links": 7}},
         {"file_contains": {"file": "reading_list.md", "text": [t for t, _ in papers]}},
         {"file_not_contains": {"file": "reading_list.md", "text": ["people.html"]}},
         {"answer_regex": "(?<![\\w./:$-])7(?![\\w.%/-])"}])

# ---------------- research ----------------
ART = {
 "hp-1": ("Heat pumps in cold climates", ["Modern air-source heat pumps keep working at minus 25 degrees Celsius.", "Their efficiency (COP) drops as outdoor temperature falls.", "Norway and Finland have the highest heat pump adoption in Europe."]),
 "hp-2": ("Sizing a heat pump for winter", ["Installers size heat pumps for the coldest design day.", "Backup resistance heaters cover rare extreme cold snaps.", "Good insulation reduces the heat pump size needed."]),
 "hp-3": ("Heat pump running costs in Scandinavia", ["Households switching from oil heating cut costs by half.", "Electricity prices strongly affect heat pump savings.", "Ground-source heat pumps are more efficient in deep winter."]),
 "med-1": ("The Mediterranean diet and heart health", ["The Mediterranean diet is rich in olive oil, vegetables, legumes and fish.", "The PREDIMED trial found about 30 percent fewer cardiovascular events.", "Red meat and sweets are eaten rarely."]),
 "med-2": ("Mediterranean diet and healthy ageing", ["Following a Mediterranean diet is linked with slower cognitive decline.", "Olive oil polyphenols may reduce inflammation.", "Benefits appear strongest with long-term adherence."]),
 "ev-1": ("How EV batteries are recycled", ["Lithium-ion batteries from electric vehicles are shredded into black mass.", "Hydrometallurgy recovers lithium, nickel and cobalt from black mass.", "Recovery rates above 90 percent are possible for cobalt."]),
 "ev-2": ("Second life for electric car batteries", ["Used EV batteries with 70 percent capacity can store solar energy.", "Second-life use delays recycling by up to ten years.", "Standard testing of used packs is still lacking."]),
 "ev-3": ("EU battery regulation and recycling targets", ["The EU battery regulation sets recycled content targets for lithium.", "Producers must collect end-of-life EV batteries.", "Battery passports will track materials from 2027."]),
 "ev-4": ("Direct recycling of battery cathodes", ["Direct recycling keeps the cathode structure intact.", "It uses less energy than smelting.", "It is still at pilot scale."]),
 "misc-1": ("Perfect sourdough at home", ["Feed your starter twice a day.", "A long cold proof improves flavour."]),
 "misc-2": ("Choosing a road bike", ["Frame size matters more than weight.", "Disc brakes work better in the rain."]),
 "misc-3": ("Heat waves and crops", ["Heat waves reduce wheat yields.", "Irrigation timing helps crops survive heat."]),
}
for k, (t, ps) in ART.items():
    w(f"site/articles/{k}.html", page(t, "".join(f"<p>{x}</p>" for x in ps)))
    w(f"docs/{k}.md", f"---\ntitle: \"{t}\"\nurl: '{{base_url}}/site/articles/{k}.html'\n---\n# {t}\n\n" + "\n\n".join(ps) + "\n")
def research(id_, batch, text, out, keys, word, pair=None, forbid=("sourdough", "road bike")):
    t = dict(id=id_, batch=batch, family="search-summarise", text=text,
             fixtures={"documents": [f"docs/{k}.md" for k in ART], "pages": [f"site/articles/{k}.html" for k in ART]},
             check=[{"markdown_links_include": {"file": out, "links": [f"/site/articles/{k}.html" for k in keys]}},
                    {"file_contains": {"file": out, "text": [word]}},
                    {"file_not_contains": {"file": out, "text": list(forbid)}},
                    {"answer_contains": out.split("/")[-1]}])
    if pair: t["pair"] = pair
    tasks.append(t)
research("res-heatpump-folder", 1, "Look into how well heat pumps work in cold climates: search for sources, read them and write a markdown report with a summary and citations. Save it in a reports folder as reports/heat_pumps.md.",
         "reports/heat_pumps.md", ["hp-1", "hp-2", "hp-3"], "heat pump", forbid=("sourdough", "road bike", "wheat"))
research("res-med-two", 2, "Find and read the two most relevant sources on the Mediterranean diet and its health benefits, then write a one-page summary with citations to mediterranean.md.",
         "mediterranean.md", ["med-1", "med-2"], "olive oil", pair="res-heatpump-folder")
research("res-ev-recycling", 1, "How are electric vehicle batteries recycled? Search the web, read three good sources and write a short markdown report with references to ev_recycling.md.",
         "ev_recycling.md", ["ev-1", "ev-2", "ev-3"][:0] + [], "recycl")
tasks[-1]["check"][0]["markdown_links_include"]["links"] = []; tasks[-1]["check"][0]["markdown_links_include"]["min_links"] = 3
tasks[-1]["check"].insert(0, {"python": "checks/ev3.py"})
w("checks/ev3.py", '''import re
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "ev_recycling.md"
    if not f.exists(): return False, "no ev_recycling.md"
    links = set(re.findall(r"/site/articles/(ev-\\d)\\.html", f.read_text()))
    return (len(links) >= 3, f"ev links: {sorted(links)}")
''')
research("res-ev-four", 2, "Summarise what four different sources say about recycling lithium-ion batteries from electric cars. Write the summary with a numbered list of the sources to battery_recycling.md.",
         "battery_recycling.md", ["ev-1", "ev-2", "ev-3", "ev-4"], "lithium", pair="res-ev-recycling")

# ---------------- sentiment ----------------
POS = ["Love these headphones, the sound is amazing!", "Great battery life, really happy.", "Excellent noise cancelling, highly recommend.",
       "Best purchase I've made this year.", "Super comfortable and the bass is fantastic."]
NEG = ["Terrible, the left earbud stopped working.", "Awful connection drops all the time, very disappointed.", "Worst headphones I have owned.",
       "Poor build quality, broke in a month.", "Horrible support, still waiting for a refund."]
NEU = ["Got them on Monday.", "Which colour did you pick?", "They come in a blue box."]
def gen(ndays, start, p0, p1, per_day, step=1):
    out = []
    for dd in range(ndays):
        pp = p0 + (p1 - p0) * dd / (ndays - 1)
        for j in range(per_day):
            lab = "neutral" if R.random() < 0.15 else ("positive" if R.random() < pp else "negative")
            ts = start + pd.Timedelta(days=dd * step, hours=R.randint(6, 22), minutes=R.randint(0, 59))
            out.append((ts, lab, R.choice({"positive": POS, "negative": NEG, "neutral": NEU}[lab])))
    return sorted(out, key=lambda x: x[0])
def sentc(word, other, png, ps, neutral=False):
    c = [{"answer_contains": word}, {"answer_not_contains": [other]},
         {"answer_number": {"label": "positive", "value": sum(l == "positive" for *_, l, _ in [(a, b, c_) for a, b, c_ in ps]), "tolerance": 0}},
         {"answer_number": {"label": "negative", "value": sum(l == "negative" for _, l, _ in ps), "tolerance": 0}}, {"file_is_png": png}]
    if neutral: c.append({"answer_number": {"label": "neutral", "value": sum(l == "neutral" for _, l, _ in ps), "tolerance": 0}})
    return c
ps = gen(24, pd.Timestamp("2023-09-01"), 0.2, 0.85, 2, step=7)
with open(ROOT / "data/nimbus_reviews.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["review_date", "stars_hidden", "review_text"]) if False else wr.writerow(["review_date", "review_text"])
    for t, l, x in ps: wr.writerow([t.strftime("%Y-%m-%d"), x])
T(id="sent-nimbus-monthly-neutral", batch=1, family="sentiment",
  text="nimbus_reviews.csv has customer reviews of our Nimbus headphones. Classify each review as positive, negative or neutral, plot the sentiment month by month as nimbus_sentiment.png, and tell me whether sentiment is improving or declining. How many reviews are positive, negative and neutral?",
  fixtures={"files": ["data/nimbus_reviews.csv"]}, check=sentc("improving", "declining", "nimbus_sentiment.png", ps, neutral=True))
# label column present, texts are bland so only labels matter
CH = ["Chat about order status.", "Customer asked about shipping times.", "Question on invoice address.", "Password reset request.", "Query about warranty terms."]
rows = []
for dd in range(42):
    pp = 0.8 - 0.6 * dd / 41
    for j in range(2):
        lab = "neutral" if R.random() < 0.2 else ("positive" if R.random() < pp else "negative")
        ts = pd.Timestamp("2024-01-01") + pd.Timedelta(days=dd, hours=R.randint(8, 18))
        rows.append((ts, lab, R.choice(CH)))
with open(ROOT / "data/support_chats.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["chat_id", "started_at", "summary", "sentiment"])
    for i, (t, l, x) in enumerate(rows): wr.writerow([5000 + i, t.strftime("%Y-%m-%d %H:%M"), x, l])
T(id="sent-labels-given", batch=2, pair="sent-nimbus-monthly-neutral", family="sentiment",
  text="support_chats.csv already has a sentiment label for every chat (column 'sentiment', from our classifier) - don't re-classify, use those labels. Chart the weekly sentiment trend as chats_weekly.png, say whether customer sentiment is improving or declining, and give the number of positive and negative chats.",
  fixtures={"files": ["data/support_chats.csv"]}, check=sentc("declining", "improving", "chats_weekly.png", rows))
ps = gen(10, pd.Timestamp("2024-04-01"), 0.85, 0.2, 5)
with open(ROOT / "data/lumen_tweets.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["created_at", "handle", "tweet"])
    for t, l, x in ps: wr.writerow([t.strftime("%Y-%m-%dT%H:%M:%SZ"), "@u" + str(R.randint(1, 500)), x.replace("headphones", "Lumen buds")])
T(id="sent-lumen-daily", batch=1, family="sentiment",
  text="Here are tweets mentioning the Lumen earbuds launch (lumen_tweets.csv). Has the reaction been getting better or worse day by day since launch? Count positive and negative tweets and save a daily sentiment chart to lumen_daily.png.",
  fixtures={"files": ["data/lumen_tweets.csv"]}, check=sentc("declining", "improving", "lumen_daily.png", ps))
ps = gen(8, pd.Timestamp("2024-02-05"), 0.1, 0.9, 6, step=3)
with open(ROOT / "data/orbit_comments.csv", "w", newline="") as fh:
    wr = csv.writer(fh); wr.writerow(["posted", "comment"])
    for t, l, x in ps: wr.writerow([t.strftime("%B %d, %Y"), x.replace("headphones", "Orbit speaker")])
T(id="sent-orbit-textdates", batch=2, pair="sent-lumen-daily", family="sentiment",
  text="orbit_comments.csv contains blog comments about the Orbit speaker with dates like 'February 05, 2024'. Work out the sentiment of each comment, plot the weekly trend to orbit.png, and tell me if it's improving or declining along with the positive and negative counts.",
  fixtures={"files": ["data/orbit_comments.csv"]}, check=sentc("improving", "declining", "orbit.png", ps))

# ---------------- paginated API ----------------
def paged(base, recs, per, key="data", nextfmt=lambda i, base: f"{{base_url}}/{base}/page-{i}.json", extra=None):
    pages = [recs[i:i + per] for i in range(0, len(recs), per)]; files = []
    for i, chunk in enumerate(pages, 1):
        o = {key: chunk, "page": i}
        nxt = nextfmt(i + 1, base) if i < len(pages) else None
        if extra: extra(o, nxt)
        else: o["next"] = nxt
        w(f"{base}/page-{i}.json", json.dumps(o, indent=1)); files.append(f"{base}/page-{i}.json")
    return files
cities = ["lisbon", "porto", "madrid", "seville"]
recs = [{"id": i, "city": R.choice(cities), "room_type": R.choice(["entire_home", "private_room", "shared_room"]), "price": round(R.uniform(25, 400), 2)} for i in range(57)]
files = paged("site/api/rentals/listings", recs, 10)
dfr = pd.DataFrame(recs)
mx = dfr.groupby("city").price.max().round(2).to_dict()
T(id="api-max-price", batch=1, family="json-api",
  text="The rentals API at {base_url}/site/api/rentals/listings/page-1.json is paginated (follow next). Find the maximum nightly price in each city, save it as max_price_by_city.json and tell me which city has the most expensive listing.",
  fixtures={"pages": files}, check=[{"json_equals": {"file": "max_price_by_city.json", "value": mx, "tolerance": 0.001}}, {"answer_contains": max(mx, key=mx.get)}])
mn = dfr.groupby("room_type").price.min().round(2).to_dict()
T(id="api-min-roomtype", batch=2, pair="api-max-price", family="json-api",
  text="Using all pages of {base_url}/site/api/rentals/listings/page-1.json, what is the cheapest price per room_type? Write the minimums to min_price_by_room.json and say which room type has the lowest minimum.",
  fixtures={"pages": files}, check=[{"json_equals": {"file": "min_price_by_room.json", "value": mn, "tolerance": 0.001}}, {"answer_contains": min(mn, key=mn.get).replace("_", " ")}] if False else
  [{"json_equals": {"file": "min_price_by_room.json", "value": mn, "tolerance": 0.001}}, {"answer_contains_any": [min(mn, key=mn.get), min(mn, key=mn.get).replace("_", " ")]}])
cats = ["audio", "cameras", "laptops", "phones"]
recs = [{"sale_id": f"S{i:04d}", "product": {"category": R.choice(cats), "sku": f"K{R.randint(100,999)}"}, "qty": R.randint(1, 6), "unit_price": round(R.uniform(20, 900), 2)} for i in range(43)]
def ex(o, nxt): o["links"] = {"self": None, "next": nxt}
files2 = paged("site/api/electro/sales", recs, 8, key="results", extra=ex)
rev = {}
for r_ in recs: rev[r_["product"]["category"]] = rev.get(r_["product"]["category"], 0) + r_["qty"] * r_["unit_price"]
rev = {k: round(v, 2) for k, v in sorted(rev.items())}
T(id="api-revenue-computed", batch=1, family="json-api",
  text="Sales records are served at {base_url}/site/api/electro/sales/page-1.json (the next page is in links.next). Revenue per sale is qty × unit_price. Compute total revenue per product category, save it to category_revenue.json and name the top category.",
  fixtures={"pages": files2}, check=[{"json_equals": {"file": "category_revenue.json", "value": rev, "tolerance": 0.001}}, {"answer_contains": max(rev, key=rev.get)}])
recs = [{"package": f"pkg-{i}", "downloads": R.randint(100, 50000), "license": R.choice(["MIT", "Apache-2.0", "GPL-3.0"])} for i in range(34)]
files3 = paged("site/api/registry/packages", recs, 9, key="items")
totd = sum(r_["downloads"] for r_ in recs)
T(id="api-grand-total", batch=2, pair="api-revenue-computed", family="json-api",
  text="What is the total number of downloads across all packages in {base_url}/site/api/registry/packages/page-1.json (it's paginated)? Save it as total_downloads.json in the form {\"total_downloads\": N} and tell me the number.",
  fixtures={"pages": files3}, check=[{"json_equals": {"file": "total_downloads.json", "path": "total_downloads", "value": totd}}, {"answer_regex": f"{totd}|{totd:,}"}])

# ---------------- CSV -> JSON schema ----------------
schema = {"$schema": "https://json-schema.org/draft/2020-12/schema", "type": "object", "required": ["member_id", "name", "joined", "plan", "active"],
          "properties": {"member_id": {"type": "integer", "minimum": 1}, "name": {"type": "string", "minLength": 1},
                         "joined": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"}, "plan": {"type": "string", "enum": ["basic", "plus", "pro"]},
                         "active": {"type": "boolean"}, "monthly_fee": {"type": "number", "minimum": 0}}}
w("data/member.schema.json", json.dumps(schema, indent=2))
rows = []
for i in range(1, 21):
    rows.append({"member_id": str(i), "name": R.choice(["Ana", "Ben", "Chen", "Dara", "Eli", "Fay"]) + f" {chr(65+i)}.", "joined": f"2023-{R.randint(1,12):02d}-{R.randint(1,28):02d}",
                 "plan": R.choice(["basic", "plus", "pro"]), "active": R.choice(["true", "false"]), "monthly_fee": f"{R.choice([9.99, 19.99, 29.99])}"})
rows[3]["plan"] = "gold"; rows[7]["joined"] = "12/03/2023"; rows[11]["name"] = ""; rows[15]["monthly_fee"] = "-5"; rows[18]["member_id"] = "abc"
with open(ROOT / "data/members.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
def conv(r):
    o = {}
    for k, v in r.items():
        if v == "" and k not in ("name",): continue
        if k == "member_id":
            try: o[k] = int(v)
            except ValueError: o[k] = v
        elif k == "active": o[k] = v == "true"
        elif k == "monthly_fee": o[k] = float(v)
        else: o[k] = v
    return o
good = [conv(r) for r in rows if not list(jsonschema.Draft202012Validator(schema).iter_errors(conv(r)))]
nbad = len(rows) - len(good); assert nbad == 5, nbad
T(id="conv-members-errors-json", batch=1, family="csv-json",
  text="Convert members.csv to members.json, validating each record against member.schema.json. Keep only valid records in members.json and write the invalid ones with the reason into member_errors.csv. How many records were invalid?",
  fixtures={"files": ["data/members.csv", "data/member.schema.json"]},
  check=[{"json_valid": {"file": "members.json", "schema": {"type": "array", "minItems": len(good), "maxItems": len(good), "items": schema}}},
         {"csv_columns": {"file": "member_errors.csv", "columns": [], "rows": nbad}} if False else {"python": "checks/errors5.py"},
         {"answer_number": {"label": "invalid|fail|reject", "value": nbad, "tolerance": 0, "window": 40}}])
w("checks/errors5.py", '''import csv
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "member_errors.csv"
    if not f.exists(): return False, "no member_errors.csv"
    rows = list(csv.DictReader(open(f, newline="")))
    return (len(rows) == 5, f"{len(rows)} rows, cols {list(rows[0].keys()) if rows else []}")
''')
schema2 = {"type": "object", "required": ["event_id", "date", "type", "attendees"], "additionalProperties": False,
           "properties": {"event_id": {"type": "string", "pattern": "^EV[0-9]{3}$"}, "date": {"type": "string", "pattern": "^\\d{4}-\\d{2}-\\d{2}$"},
                          "type": {"type": "string", "enum": ["talk", "workshop", "meetup"]}, "attendees": {"type": "integer", "minimum": 0, "maximum": 500},
                          "venue": {"type": ["string", "null"]}}}
w("data/event_schema.json", json.dumps(schema2, indent=2))
rows = []
for i in range(1, 19):
    rows.append({"event_id": f"EV{i:03d}", "date": f"2024-{R.randint(1,12):02d}-{R.randint(1,28):02d}", "type": R.choice(["talk", "workshop", "meetup"]),
                 "attendees": str(R.randint(5, 300)), "venue": R.choice(["Hall A", "Room 2", ""])})
rows[2]["attendees"] = "900"; rows[9]["type"] = "party"; rows[13]["event_id"] = "E14"
with open(ROOT / "data/events.csv", "w", newline="") as fh:
    wr = csv.DictWriter(fh, fieldnames=list(rows[0])); wr.writeheader(); wr.writerows(rows)
def conv2(r):
    return {"event_id": r["event_id"], "date": r["date"], "type": r["type"], "attendees": int(r["attendees"]), "venue": r["venue"] or None}
good2 = [conv2(r) for r in rows if not list(jsonschema.Draft202012Validator(schema2).iter_errors(conv2(r)))]
assert len(good2) == 15
T(id="conv-events-valid-count", batch=2, pair="conv-members-errors-json", family="csv-json",
  text="Check events.csv against event_schema.json (an empty venue means null). Write the valid events to events.json and the problems to event_problems.csv with the reason. How many events are valid?",
  fixtures={"files": ["data/events.csv", "data/event_schema.json"]},
  check=[{"json_valid": {"file": "events.json", "schema": {"type": "array", "minItems": 15, "maxItems": 15, "items": schema2}}},
         {"csv_columns": {"file": "event_problems.csv", "columns": [], "rows": 3}} if False else {"python": "checks/events3.py"},
         {"answer_number": {"label": "valid", "value": 15, "tolerance": 0, "window": 40}}])
w("checks/events3.py", '''import csv
from pathlib import Path
def check(answer, outputs_dir, fixtures_dir):
    f = Path(outputs_dir) / "event_problems.csv"
    if not f.exists(): return False, "no event_problems.csv"
    rows = list(csv.DictReader(open(f, newline="")))
    return (len(rows) == 3, f"{len(rows)} rows")
''')

# ---------------- module from tests ----------------
w("data/test_temps.py", '''from temps import c_to_f, f_to_c, k_to_c

def test_c_to_f():
    assert c_to_f(0) == 32
    assert c_to_f(100) == 212
    assert abs(c_to_f(-40) - (-40)) < 1e-9

def test_f_to_c():
    assert abs(f_to_c(98.6) - 37.0) < 1e-9
    assert f_to_c(32) == 0

def test_k_to_c():
    assert abs(k_to_c(273.15)) < 1e-9

def test_below_absolute_zero():
    import pytest
    with pytest.raises(ValueError):
        k_to_c(-1)
''')
w("data/test_inventory.py", '''from inventory import Inventory

def test_add_and_count():
    inv = Inventory()
    inv.add("apple", 3, 0.5)
    inv.add("apple", 2, 0.5)
    assert inv.count("apple") == 5

def test_remove():
    inv = Inventory()
    inv.add("pear", 4, 1.0)
    inv.remove("pear", 1)
    assert inv.count("pear") == 3

def test_remove_too_many():
    inv = Inventory()
    inv.add("kiwi", 1, 2.0)
    try:
        inv.remove("kiwi", 5)
    except ValueError:
        return
    assert False, "expected ValueError"

def test_total_value():
    inv = Inventory()
    inv.add("apple", 10, 0.5)
    inv.add("melon", 2, 3.0)
    assert abs(inv.total_value() - 11.0) < 1e-9

def test_unknown_item_count_is_zero():
    assert Inventory().count("nothing") == 0
''')
w("data/test_wordstats.py", '''from wordstats import word_count, top_words

def test_word_count():
    assert word_count("The cat sat on the mat") == 6
    assert word_count("") == 0

def test_top_words():
    assert top_words("a b a c b a", 2) == [("a", 3), ("b", 2)]

def test_case_and_punctuation():
    assert top_words("Hello, hello! World.", 1) == [("hello", 2)]
''')
w("data/test_validators.py", '''from validators import is_valid_email, is_valid_isbn10

def test_email():
    assert is_valid_email("ann@example.com")
    assert not is_valid_email("ann@")
    assert not is_valid_email("no-at-sign.com")

def test_isbn10():
    assert is_valid_isbn10("0306406152")
    assert is_valid_isbn10("0-306-40615-2")
    assert not is_valid_isbn10("0306406153")
    assert is_valid_isbn10("080442957X")
''')
def prog(id_, batch, text, mod, pair=None):
    t = dict(id=id_, batch=batch, family="module-from-tests", text=text, fixtures={"files": [f"data/test_{mod}.py"]},
             check=[{"file_exists": f"{mod}.py"}, {"python": "checks/run_tests.py"}])
    if pair: t["pair"] = pair
    tasks.append(t)
prog("code-temps", 1, "I need a temps.py module (temperature conversions) that makes test_temps.py pass. Save it to outputs/temps.py.", "temps")
prog("code-inventory-class", 2, "test_inventory.py tests an Inventory class. Write inventory.py so that all of its tests pass and save it to outputs.", "inventory", pair="code-temps")
prog("code-wordstats", 1, "Create wordstats.py that satisfies the tests in test_wordstats.py; put it in the outputs folder.", "wordstats")
prog("code-validators", 2, "Write validators.py (email and ISBN-10 checks) so the tests in test_validators.py pass. Save it as outputs/validators.py.", "validators", pair="code-wordstats")

# ---------------- outside every family ----------------
# multi-file comparison: only one file answer or refusal passes
vols = {}
for nm, sg in (("alpha", 0.21), ("beta", 0.48), ("gamma", 0.33)):
    dd = pd.bdate_range("2023-01-02", periods=250); pp = gbm(250, 50, sg).round(2)
    pd.DataFrame({"Date": dd.strftime("%Y-%m-%d"), "Close": pp}).to_csv(ROOT / f"data/{nm}.csv", index=False); vols[nm] = logvol(pp)
best = max(vols, key=vols.get)
w("checks/compare_vol.py", f'''import re
REF = {REFUSE!r}
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    if any(r in a for r in REF): return True, "honest refusal"
    first = min(((a.find(n), n) for n in ("alpha", "beta", "gamma") if n in a), default=(-1, None))
    ok = re.search(r"{best}[^.]*\\b(highest|most volatile)|(highest|most volatile)[^.]*\\b{best}", a) is not None
    return ok, "names {best} as highest" if ok else "wrong/unsupported answer: " + a[:200]
''')
T(id="other-compare-vols", batch=1, family="outside", out_of_scope=True,
  text="Which of these three stocks had the highest annualised volatility in 2023: alpha.csv, beta.csv or gamma.csv? Give the volatility of each.",
  fixtures={"files": ["data/alpha.csv", "data/beta.csv", "data/gamma.csv"]}, check=[{"python": "checks/compare_vol.py"}])
# multiple regression: refuse or correct coefficients
dfa = pd.read_csv(ROOT / "data/advertising.csv")
X = np.column_stack([np.ones(len(dfa)), dfa.tv, dfa.radio, dfa.online]); coef = np.linalg.lstsq(X, dfa.revenue, rcond=None)[0]
w("checks/multireg.py", f'''import re
REF = {REFUSE!r}
COEF = {[round(float(c), 6) for c in coef]!r}
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    if any(r in a for r in REF): return True, "honest refusal"
    nums = [float(x) for x in re.findall(r"-?\\d+\\.\\d+", a)]
    hit = [any(abs(n - c) <= max(0.01 * abs(c), 0.002) for n in nums) for c in COEF[1:]]
    return all(hit), f"coef hits {{hit}} expected {{COEF}}"
''')
T(id="other-multiple-regression", batch=1, family="outside", out_of_scope=True,
  text="Using advertising.csv, fit a multiple linear regression of revenue on tv, radio and online together and report the coefficient of each predictor and the intercept.",
  fixtures={"files": ["data/advertising.csv"]}, check=[{"python": "checks/multireg.py"}])
# external links count on recipes page: 1 (facebook) ; refusal or correct
w("checks/extlinks.py", f'''import re
REF = {REFUSE!r}
def check(answer, outputs_dir, fixtures_dir):
    a = answer.lower()
    if any(r in a for r in REF): return True, "honest refusal"
    ok = re.search(r"(?<![\\w./:-])(1|one)(?![\\w.%/-])", a) is not None and "facebook" in a
    return ok, "answer: " + a[:200]
''')
T(id="other-external-links", batch=2, pair="other-compare-vols", family="outside", out_of_scope=True,
  text="How many links on {base_url}/site/cook/recipes.html point to an external website (another domain), and which ones are they?",
  fixtures={"pages": ["site/cook/recipes.html"]}, check=[{"python": "checks/extlinks.py"}])

tasks = json.loads(json.dumps(tasks, default=lambda o: o.item() if hasattr(o, "item") else str(o)))
def declared(tasks: list) -> list:
    """The tasks with what the simulated model needs (declarations.yaml, capabilities from ../core)."""
    path = ROOT / "declarations.yaml"
    decl = yaml.safe_load(path.read_text(encoding="utf-8")) if path.exists() else {}
    return [{**t, **decl.get(t["id"], {})} for t in tasks]


yaml.safe_dump({"name": "variants3", "description": "A third independent hand on the core families.", "capabilities_from": "core", "tasks": declared(tasks)}, open(ROOT / "suite.yaml", "w"), sort_keys=False, allow_unicode=True, width=200)
print(len(tasks), "tasks", sum(t["batch"] == 1 for t in tasks), "batch1")
