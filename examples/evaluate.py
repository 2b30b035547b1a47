"""Scenario 8: bridged traces are the data of an MLflow evaluation; assessments land on them.

    otel-bridge demo                                   # or: otel-bridge run -- python app.py
    python examples/evaluate.py --experiment otel-bridge-demo

It searches the experiment's traces (``--filter`` takes MLflow's filter syntax, e.g.
"tag.`service.name` = 'checkout-bot'" or "metadata.`mlflow.trace.session` = 's-1'"), runs
``mlflow.genai.evaluate`` over them and prints each trace's assessments as read back from MLflow.

* Code scorers need no model and run offline: the trace ended without error, the root has an
  answer (the bridge carries the last LLM output to a plain root span), tokens within a budget.
* An LLM judge (MLflow's ``Guidelines``, called through LiteLLM) joins when a provider key is
  set: ``--judge-model`` (e.g. ``openai:/gpt-4o-mini``), else ``MLFLOW_GENAI_JUDGE_DEFAULT_MODEL``,
  else a model of the provider whose key is set (``OPENAI_API_KEY``, ``ANTHROPIC_API_KEY``,
  ``GEMINI_API_KEY``). Without any, it says so and runs the code scorers alone.

Where: ``MLFLOW_TRACKING_URI`` (unset: ``sqlite:///mlflow.db`` here, the bridge's embedded store)
and, for a protected server, ``MLFLOW_TRACKING_USERNAME`` / ``_PASSWORD`` or ``_TOKEN``.
Run it as a plain Python program, not under ``otel-bridge run``: the judge's own LLM calls are
not part of the traces being evaluated.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # no price-map download
os.environ.setdefault("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")

import mlflow
from mlflow.entities import Feedback, Trace
from mlflow.genai.scorers import Guidelines, scorer

JUDGE_MODELS = {  # provider key -> a small model of that provider, as MLflow names models
    "OPENAI_API_KEY": "openai:/gpt-4o-mini",
    "ANTHROPIC_API_KEY": "anthropic:/claude-3-5-haiku-latest",
    "GEMINI_API_KEY": "gemini:/gemini-2.5-flash",
}
TOKEN_BUDGET = 4000


def final_text(outputs: Any) -> str:
    """The answer's text, from what MLflow shows as the trace's response: chat messages
    (``{"messages": [{"role": "assistant", "content": ...}]}``, the bridge's shape for a root),
    a string, or any other JSON value."""
    if isinstance(outputs, str):
        return outputs.strip()
    if isinstance(outputs, dict) and isinstance(outputs.get("messages"), list):
        texts = []
        for message in outputs["messages"]:
            content = message.get("content") if isinstance(message, dict) else None
            if isinstance(content, str):
                texts.append(content)
            elif isinstance(content, list):
                texts += [p["text"] for p in content if isinstance(p, dict) and "text" in p]
        return "\n".join(t for t in texts if t).strip()
    return "" if outputs is None else json.dumps(outputs, default=str)


@scorer
def has_answer(outputs: Any) -> Feedback:
    text = final_text(outputs)
    if text:
        return Feedback(value=True, rationale=f"answer of {len(text)} characters")
    return Feedback(value=False, rationale="the trace has no text answer (content off?)")


@scorer
def no_errors(trace: Trace) -> Feedback:
    failed = [s.name for s in trace.data.spans if s.status.status_code == "ERROR"]
    ok = trace.info.state == "OK" and not failed
    return Feedback(value=ok, rationale="no failed span" if ok else f"failed: {failed}")


@scorer
def within_token_budget(trace: Trace) -> Feedback:
    total = (trace.info.token_usage or {}).get("total_tokens")
    if total is None:
        return Feedback(value=True, rationale="no token usage recorded")
    return Feedback(value=total <= TOKEN_BUDGET, rationale=f"{total} of {TOKEN_BUDGET} tokens")


def judge_model(requested: str | None) -> tuple[str | None, str]:
    """The judge's model, or None and why there is no judge."""
    if requested:
        return requested, "--judge-model"
    if os.environ.get("MLFLOW_GENAI_JUDGE_DEFAULT_MODEL"):
        return os.environ["MLFLOW_GENAI_JUDGE_DEFAULT_MODEL"], "MLFLOW_GENAI_JUDGE_DEFAULT_MODEL"
    for key, model in JUDGE_MODELS.items():
        if os.environ.get(key):
            return model, key
    return None, f"no LLM judge: none of {', '.join(JUDGE_MODELS)} is set (code scorers only)"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--experiment",
        default=os.environ.get("MLFLOW_EXPERIMENT_NAME")
        or os.environ.get("OTEL_SERVICE_NAME")
        or "otel-bridge-demo",
        help="experiment name (default: MLFLOW_EXPERIMENT_NAME, OTEL_SERVICE_NAME, "
        "otel-bridge-demo)",
    )
    parser.add_argument("--filter", default=None, help="MLflow trace filter string")
    parser.add_argument("--max-traces", type=int, default=50)
    parser.add_argument("--judge-model", default=None, help="e.g. openai:/gpt-4o-mini")
    parser.add_argument("--no-judge", action="store_true", help="code scorers only")
    args = parser.parse_args(argv)

    experiment = mlflow.get_experiment_by_name(args.experiment)
    if experiment is None:
        print(f"no experiment {args.experiment!r} at {mlflow.get_tracking_uri()}", file=sys.stderr)
        return 1
    mlflow.set_experiment(experiment_id=experiment.experiment_id)
    traces = mlflow.search_traces(
        locations=[experiment.experiment_id],
        filter_string=args.filter,
        max_results=args.max_traces,
    )
    if len(traces) == 0:
        print(f"no traces in {args.experiment!r} match {args.filter!r}", file=sys.stderr)
        return 1

    scorers = [no_errors, has_answer, within_token_budget]
    model, why = (
        (None, "no LLM judge: --no-judge") if args.no_judge else judge_model(args.judge_model)
    )
    if model:
        guidelines = "The response answers the user's request directly and politely."
        scorers.append(Guidelines(name="answers_the_request", guidelines=guidelines, model=model))
        print(f"LLM judge: {model} (from {why}), through LiteLLM")
    else:
        print(why)

    result = mlflow.genai.evaluate(data=traces, scorers=scorers)
    print(f"evaluation run: {result.run_id}")
    for name, value in sorted(result.metrics.items()):
        print(f"  {name}: {value:g}")

    # Read the assessments back from MLflow: they are attached to the traces themselves.
    client = mlflow.MlflowClient()
    for trace_id in traces["trace_id"]:
        assessments = client.get_trace(trace_id).info.assessments
        shown = ", ".join(
            f"{a.name}={a.feedback.value}" for a in assessments if a.feedback is not None
        )
        print(f"{trace_id}: {shown}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
