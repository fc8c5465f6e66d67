#!/usr/bin/python3
"""Train the risk model on a labelled feature CSV (export-training or gendata output).

Writes, for --out PREFIX:
  PREFIX.model             XGBoost binary model (binary:logistic gbtree), read by internal/model
  PREFIX.model.json        its header: version, feature version and names, baseline, SHA-256, metrics
  PREFIX.report.md         hold-out report: AUC, precision and recall at the thresholds, calibration
  PREFIX.calibration.png   calibration picture (PREFIX.calibration.svg when matplotlib is missing)
  PREFIX.predictions.csv   hold-out rows with XGBoost's own predictions, for the Go parity test

Needs Debian's python3-xgboost (1.7.4) and python3-sklearn; python3-matplotlib for the PNG.
Run it with /usr/bin/python3, which is where Debian installs them.
"""

import argparse
import csv
import hashlib
import json
import math
import os
import sys

LEAD = ["group", "label", "rule", "feature_version"]

try:
    import numpy as np
    import xgboost as xgb
    from sklearn.calibration import calibration_curve
    from sklearn.metrics import precision_score, recall_score, roc_auc_score
    from sklearn.model_selection import GroupShuffleSplit
except ImportError as e:  # the Go tests look for this message
    sys.exit(f"train.py: {e}: install the Debian packages python3-xgboost python3-sklearn "
             "(apt-get install -y python3-xgboost python3-sklearn) and run /usr/bin/python3")


def read(path):
    with open(path, newline="") as f:
        rows = list(csv.reader(f))
    if not rows:
        sys.exit(f"train.py: {path} is empty")
    header, body = rows[0], rows[1:]
    if header[:len(LEAD)] != LEAD:
        sys.exit(f"train.py: {path}: columns must start with {LEAD}, got {header[:len(LEAD)]}")
    features = header[len(LEAD):]
    versions = {r[3] for r in body}
    if len(versions) != 1:
        sys.exit(f"train.py: {path}: want one feature_version, got {sorted(versions)}")
    groups = np.array([r[0] for r in body])
    y = np.array([int(r[1]) for r in body])
    rules = [r[2] for r in body]
    X = np.array([[float(v) for v in r[len(LEAD):]] for r in body], dtype=np.float64)
    return features, int(versions.pop()), groups, y, rules, X


def precision_recall(y, p, t):
    pred = (p >= t).astype(int)
    return {"precision": float(precision_score(y, pred, zero_division=0)),
            "recall": float(recall_score(y, pred, zero_division=0)),
            "flagged": int(pred.sum())}


def calibration_picture(prefix, y, p, bins):
    frac, mean = calibration_curve(y, p, n_bins=bins, strategy="uniform")
    counts = [int(c) for c in np.histogram(p, bins=bins, range=(0, 1))[0] if c > 0]
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return svg_picture(prefix, mean, frac, counts)
    fig, ax = plt.subplots(figsize=(5, 5), dpi=80)
    ax.plot([0, 1], [0, 1], "--", color="grey", label="perfectly calibrated")
    ax.plot(mean, frac, "o-", label="model (hold-out)")
    ax.set_xlabel("predicted probability of a bad outcome")
    ax.set_ylabel("observed share of bad outcomes")
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    ax.legend(loc="upper left")
    fig.tight_layout()
    path = prefix + ".calibration.png"
    fig.savefig(path, metadata={"Software": None})
    plt.close(fig)
    return path, list(zip(mean, frac, counts))


def svg_picture(prefix, mean, frac, counts):
    s = 300
    pts = " ".join(f"{20 + m * s:.1f},{20 + (1 - f) * s:.1f}" for m, f in zip(mean, frac))
    svg = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{s + 40}" height="{s + 40}">'
           f'<rect x="20" y="20" width="{s}" height="{s}" fill="none" stroke="black"/>'
           f'<line x1="20" y1="{20 + s}" x2="{20 + s}" y2="20" stroke="grey" stroke-dasharray="4"/>'
           f'<polyline points="{pts}" fill="none" stroke="blue"/></svg>')
    path = prefix + ".calibration.svg"
    with open(path, "w") as f:
        f.write(svg)
    return path, list(zip(mean, frac, counts))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", required=True, help="training CSV")
    ap.add_argument("--out", required=True, help="output prefix, e.g. internal/model/testdata/default")
    ap.add_argument("--name", default="model", help="version prefix; the version is NAME-<sha256 of the model, 12 hex>")
    ap.add_argument("--data-note", default="", help="what the data is, in words (kept in the header)")
    ap.add_argument("--holdout", type=float, default=0.25, help="share of users held out")
    ap.add_argument("--thresholds", default="0.5,0.8", help="score thresholds the policy uses")
    ap.add_argument("--trees", type=int, default=25)
    ap.add_argument("--depth", type=int, default=2)
    ap.add_argument("--eta", type=float, default=0.4)
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--fixture-rows", type=int, default=300, help="hold-out rows kept in PREFIX.predictions.csv")
    a = ap.parse_args()

    features, version, groups, y, rules, X = read(a.data)
    split = GroupShuffleSplit(n_splits=1, test_size=a.holdout, random_state=a.seed)
    tr, ho = next(split.split(X, y, groups))
    for name, idx in (("training", tr), ("hold-out", ho)):
        if len(set(y[idx])) < 2:
            sys.exit(f"train.py: the {name} set has only label {set(y[idx])}: more data is needed")

    base = float(y[tr].mean())
    params = {"objective": "binary:logistic", "max_depth": a.depth, "eta": a.eta, "tree_method": "exact",
              "nthread": 1, "seed": a.seed, "base_score": base, "eval_metric": "auc"}
    booster = xgb.train(params, xgb.DMatrix(X[tr], label=y[tr], feature_names=features), a.trees)

    model_path = a.out + ".model"  # not .json: XGBoost writes its binary format
    booster.save_model(model_path)
    raw = open(model_path, "rb").read()
    if raw[:1] == b"{":
        sys.exit("train.py: XGBoost wrote JSON; internal/model reads the binary format")
    sha = hashlib.sha256(raw).hexdigest()

    # Predict with the model as saved, so the fixture is what the file does.
    saved = xgb.Booster(model_file=model_path)
    p = saved.predict(xgb.DMatrix(X[ho], feature_names=features))
    auc = float(roc_auc_score(y[ho], p))
    thresholds = [float(t) for t in a.thresholds.split(",")]
    at = {f"{t:g}": precision_recall(y[ho], p, t) for t in thresholds}
    picture, curve = calibration_picture(a.out, y[ho], p, 10)

    header = {
        "version": f"{a.name}-{sha[:12]}",
        "feature_version": version,
        "features": features,
        "baseline": [float(v) for v in np.median(X[tr], axis=0)],
        "model_sha256": sha,
        "objective": "binary:logistic",
        "trainer": f"xgboost {xgb.__version__}, {a.trees} trees, depth {a.depth}, eta {a.eta}",
        "data": a.data_note or os.path.basename(a.data),
        "metrics": {"train_rows": int(len(tr)), "holdout_rows": int(len(ho)), "auc": auc,
                    "at_threshold": {k: {"precision": v["precision"], "recall": v["recall"]} for k, v in at.items()}},
    }
    with open(model_path + ".json", "w") as f:
        json.dump(header, f, indent=2)
        f.write("\n")

    with open(a.out + ".predictions.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(features + ["xgboost_prediction"])
        for row, v in zip(X[ho][:a.fixture_rows], p[:a.fixture_rows]):
            w.writerow([repr(float(x)) for x in row] + [repr(float(v))])

    gain = booster.get_score(importance_type="total_gain")
    counts = {}
    for r in rules:
        counts[r] = counts.get(r, 0) + 1
    lines = [
        f"# Model report: {header['version']}",
        "",
        f"Data: {header['data']}. Feature version {version}, {len(features)} features.",
        f"Trainer: {header['trainer']}, base score {base:.4f} (the training set's share of bad outcomes).",
        "",
        "| | rows | bad outcomes |",
        "| --- | --- | --- |",
        f"| training | {len(tr)} | {int(y[tr].sum())} |",
        f"| hold-out (split by user) | {len(ho)} | {int(y[ho].sum())} |",
        "",
        "Labels by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) + ".",
        "",
        f"**Hold-out AUC: {auc:.4f}**",
        "",
        "| threshold (score ≥) | precision | recall | flagged |",
        "| --- | --- | --- | --- |",
    ]
    lines += [f"| {k} | {v['precision']:.3f} | {v['recall']:.3f} | {v['flagged']} |" for k, v in at.items()]
    lines += ["", f"Calibration (hold-out, 10 bins): ![calibration]({os.path.basename(picture)})", "",
              "| mean predicted | observed | rows |", "| --- | --- | --- |"]
    lines += [f"| {m:.3f} | {o:.3f} | {n} |" for m, o, n in curve]
    lines += ["", "Features by total gain:", "", "| feature | total gain |", "| --- | --- |"]
    lines += [f"| {k} | {v:.1f} |" for k, v in sorted(gain.items(), key=lambda kv: -kv[1])]
    with open(a.out + ".report.md", "w") as f:
        f.write("\n".join(lines) + "\n")

    print(f"{header['version']}: AUC {auc:.4f} on {len(ho)} hold-out rows; wrote {model_path}, "
          f"{model_path}.json, {a.out}.report.md, {picture}")


if __name__ == "__main__":
    main()
