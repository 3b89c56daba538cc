"""The README serving example as a real FastAPI app: guard, safeguards, fallback, logger."""

import json
import math
import os
import warnings

from fastapi import FastAPI
from pydantic import BaseModel

from driftguard.guard import FORMAT, Guard, RejectedPrediction, seal
from driftguard.ingest import ingest_model
from driftguard.serving_log import PredictionLogger
from tests.helpers import make_workspace, model_dict

with warnings.catch_warnings():  # starlette's note about httpx, not about this code
    warnings.simplefilter("ignore")
    from fastapi.testclient import TestClient


class ScoreRequest(BaseModel):
    request_id: str
    customer_id: str
    income: float
    age: float
    region: str
    sex: str
    segment: str
    caller: str


def fake_model(features: dict) -> float:
    """Stands in for predict_proba: income -1 gives NaN, income above 1e6 gives 1.2."""
    if features["income"] < 0:
        return math.nan
    return 1.2 if features["income"] > 1e6 else features["income"] / 1e6


def write_export(path, version: int, switches: list) -> None:
    doc = {
        "format": FORMAT,
        "version": version,
        "generated_at": "2026-03-01T12:00:00+00:00",
        "switches": switches,
        "safeguards": {
            "credit": {
                "clip_probability": True,
                "min": None,
                "max": None,
                "reject_nan": True,
                "fallback_ttl_seconds": 300,
            }
        },
    }
    temp = path.with_name(".export.tmp")
    temp.write_text(json.dumps(seal(doc)))
    os.replace(temp, path)


def build_app(guard: Guard, predictions: PredictionLogger) -> FastAPI:
    app = FastAPI()

    def manual_review(req: ScoreRequest, why: str) -> dict:
        return {"score": None, "source": "manual_review", "why": why}

    @app.post("/v1/score")
    def score(req: ScoreRequest) -> dict:
        decision = guard.why_blocked(
            endpoint="/v1/score", segment=req.segment, region=req.region, consumer=req.caller
        )
        if decision.blocked:
            return manual_review(req, decision.explanation)
        features = {"income": req.income, "age": req.age, "region": req.region}
        raw = fake_model(features)
        try:
            served = guard.protect("credit", raw, entity=req.customer_id)
        except RejectedPrediction as error:
            served = None
            why = str(error)
        predictions.log(
            req.request_id,
            features,
            raw,
            protected={"sex": req.sex},
            context={"segment": req.segment, "region": req.region, "endpoint": "/v1/score"},
        )
        if served is None:
            return manual_review(req, why)
        return {"score": served.value, "source": served.action}

    @app.get("/ready")
    def ready() -> dict:
        return guard.status()

    return app


def test_the_serving_example_end_to_end(tmp_path, monkeypatch):
    model = model_dict("credit")
    model["columns"] = {"prediction_id": "prediction_id", "timestamp": "ts", "score": "score"}
    model["sources"]["predictions"] = [{"path": "{home}/landing/credit/predictions/**/*.jsonl"}]
    ws = make_workspace(tmp_path, monkeypatch, [model])
    export = tmp_path / "killswitches.json"
    write_export(export, 1, [])
    guard = Guard(
        export,
        check_interval=0,
        defaults={"model_id": "credit", "version": "1.0", "model_type": "credit-scoring"},
    )
    predictions = PredictionLogger.for_model(
        ws.config.model("credit"), ws.settings, base=ws.base, fsync=False
    )
    client = TestClient(build_app(guard, predictions))

    def ask(i: int, customer: str, income: float) -> dict:
        body = {
            "request_id": f"r{i}",
            "customer_id": customer,
            "income": income,
            "age": 40,
            "region": "north",
            "sex": "female",
            "segment": "smb",
            "caller": "web",
        }
        response = client.post("/v1/score", json=body)
        assert response.status_code == 200
        return response.json()

    assert client.get("/ready").json()["serving"] == "normal"
    assert ask(1, "c1", 250_000) == {"score": 0.25, "source": "passed"}
    assert ask(2, "c2", 2e6) == {"score": 1.0, "source": "clipped"}
    assert ask(3, "c1", -1) == {"score": 0.25, "source": "fallback"}  # c1's last good value
    refused = ask(4, "c3", -1)  # no earlier value for c3
    assert refused["source"] == "manual_review" and "not a finite number" in refused["why"]

    # the kill-switch module activates a switch on the model type: no redeploy needed
    write_export(
        export,
        2,
        [
            {
                "id": "ks-1",
                "scope": "model_type",
                "target": {"model_type": "credit-scoring"},
                "reason": "PSI 0.61 on income",
                "activated_at": "2026-03-01T12:05:00+00:00",
                "activated_by": "monitor",
            }
        ],
    )
    blocked = ask(5, "c1", 100_000)
    assert blocked["source"] == "manual_review"
    assert "kill switch ks-1 on model_type" in blocked["why"] and "PSI 0.61" in blocked["why"]

    predictions.close()
    with ws.open_lake() as lake:
        report = ingest_model(lake, ws.config.model("credit"), ws.settings, base=ws.base)
        stored = lake.fetchall("SELECT prediction_id, score FROM predictions__credit ORDER BY 1")
    # r1 and the raw scores are logged; r2's raw 1.2 and the two NaN are quarantined with
    # ingestion's reasons; r5 was blocked before the model ran, so nothing was logged
    assert stored == [("r1", 0.25)]
    assert report.reasons() == {"nan_score": 2, "score_out_of_range": 1}
