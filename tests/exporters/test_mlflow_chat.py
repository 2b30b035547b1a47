"""The conventions' messages in the chat shape MLflow previews and renders (a root's
inputs/outputs), converted without loss, and the previews MLflow computes from them."""

from __future__ import annotations

import json

import pytest

from otel_bridge.exporters.mlflow.chat import chat_inputs, chat_outputs, with_instructions

truncation = pytest.importorskip("mlflow.tracing.utils.truncation")

CONVERSATION = [
    {"role": "user", "parts": [{"type": "text", "content": "Weather in Paris?"},
                               {"type": "uri", "modality": "image", "uri": "https://x/p.png"}]},
    {"role": "assistant", "parts": [
        {"type": "reasoning", "content": "I should call the tool."},
        {"type": "tool_call", "id": "c1", "name": "get_weather", "arguments": {"city": "Paris"}},
    ]},
    {"role": "tool", "parts": [
        {"type": "tool_call_response", "id": "c1", "response": {"sky": "rainy"}},
        {"type": "tool_call_response", "id": "c2", "response": "windy"},
    ]},
    {"role": "user", "parts": [{"type": "text", "content": "And tomorrow?"},
                               {"type": "blob", "modality": "audio", "content": "[elided]"}]},
]  # fmt: skip


def test_a_conversation_keeps_every_part():
    converted = json.loads(chat_inputs(json.dumps(CONVERSATION), json.dumps(
        [{"type": "text", "content": "Be brief."}]
    )))  # fmt: skip
    assert converted == {
        "messages": [
            {"role": "system", "content": "Be brief."},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "Weather in Paris?"},
                    {"type": "image_url", "image_url": {"url": "https://x/p.png"}},
                ],
            },
            {
                "role": "assistant",
                "content": None,
                "tool_calls": [
                    {
                        "id": "c1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ],
                "reasoning": "I should call the tool.",
            },
            {"role": "tool", "tool_call_id": "c1", "content": '{"sky": "rainy"}'},
            {"role": "tool", "tool_call_id": "c2", "content": "windy"},
            {
                "role": "user",
                "content": [
                    {"type": "text", "text": "And tomorrow?"},
                    {"type": "blob", "modality": "audio", "content": "[elided]"},  # as it was
                ],
            },
        ]
    }
    # MLflow's request preview: the last user message's text
    assert truncation._get_truncated_preview(json.dumps(converted), role="user") == "And tomorrow?"


def test_an_answer_that_calls_tools_says_the_calls_for_the_response_preview():
    outputs = chat_outputs(json.dumps([CONVERSATION[1]]))
    [message] = json.loads(outputs)["messages"]
    assert message["content"] == 'get_weather({"city": "Paris"})'
    assert message["tool_calls"][0]["function"]["name"] == "get_weather"
    assert truncation._get_truncated_preview(outputs, role="assistant") == message["content"]


def test_what_is_not_a_list_of_messages_is_not_converted():
    assert chat_inputs('{"truncated": ') is None
    assert chat_inputs(None, None) is None
    assert chat_outputs('"just text"') is None
    # a message in another shape is kept as it is
    assert json.loads(chat_outputs('[{"role": "assistant", "content": "hi"}]')) == {
        "messages": [{"role": "assistant", "content": "hi"}]
    }


def test_instructions_lead_the_conventions_messages_of_an_inner_span():
    messages = json.dumps([{"role": "user", "parts": [{"type": "text", "content": "Hi"}]}])
    instructions = json.dumps([{"type": "text", "content": "Be brief."}])
    assert json.loads(with_instructions(messages, instructions)) == [
        {"role": "system", "parts": [{"type": "text", "content": "Be brief."}]},
        {"role": "user", "parts": [{"type": "text", "content": "Hi"}]},
    ]
    assert with_instructions(messages, None) is None


def test_the_dialect_adds_an_inner_spans_instructions_and_an_embeddings_total():
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SimpleSpanProcessor
    from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

    from otel_bridge.exporters.mlflow.dialect import to_mlflow

    memory = InMemorySpanExporter()
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(memory))
    tracer = provider.get_tracer("t")
    instructed = {
        "gen_ai.operation.name": "chat",
        "gen_ai.system_instructions": json.dumps([{"type": "text", "content": "Be brief."}]),
        "gen_ai.input.messages": json.dumps([CONVERSATION[0]]),
    }
    embedding = {"gen_ai.operation.name": "embeddings", "gen_ai.usage.input_tokens": 55}
    with tracer.start_as_current_span("app"):
        with tracer.start_as_current_span("response m", attributes=instructed):
            pass
        with tracer.start_as_current_span("embeddings e", attributes=embedding):
            pass
    chat, embedded, _ = (to_mlflow(s) for s in memory.get_finished_spans())
    assert json.loads(chat.attributes["mlflow.spanInputs"])[0] == {
        "role": "system",
        "parts": [{"type": "text", "content": "Be brief."}],
    }
    assert json.loads(embedded.attributes["mlflow.chat.tokenUsage"]) == {
        "input_tokens": 55,
        "output_tokens": 0,
        "total_tokens": 55,
    }
