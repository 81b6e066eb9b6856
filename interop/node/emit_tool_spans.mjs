// Copyright The toolaudit Authors
// SPDX-License-Identifier: Apache-2.0
//
// Emits `execute_tool` spans with the GenAI attributes toolaudit's recorder writes, through the
// OpenTelemetry JavaScript SDK and its OTLP/HTTP (protobuf) exporter, to `toolaudit serve`.
//
//   OTEL_EXPORTER_OTLP_ENDPOINT=http://127.0.0.1:4318 node emit_tool_spans.mjs [calls]
//
// Prints `SPAN <trace id> <span id>` for each span, then `DONE` once the exporter has flushed.

import { SpanStatusCode, trace } from "@opentelemetry/api";
import { OTLPTraceExporter } from "@opentelemetry/exporter-trace-otlp-proto";
import { resourceFromAttributes } from "@opentelemetry/resources";
import { BatchSpanProcessor } from "@opentelemetry/sdk-trace-base";
import { NodeTracerProvider } from "@opentelemetry/sdk-trace-node";

const endpoint = (process.env.OTEL_EXPORTER_OTLP_ENDPOINT || "http://127.0.0.1:4318").replace(/\/$/, "");
const calls = Number(process.argv[2] || 3);

const provider = new NodeTracerProvider({
  resource: resourceFromAttributes({
    "service.name": "node-support-agent",
    "service.version": "1.0.0",
    "deployment.environment.name": "interop",
  }),
  spanProcessors: [new BatchSpanProcessor(new OTLPTraceExporter({ url: `${endpoint}/v1/traces` }))],
});
const tracer = provider.getTracer("toolaudit-interop-node", "0.0.0");

for (let i = 0; i < calls; i++) {
  const span = tracer.startSpan("execute_tool lookup_order", {
    attributes: {
      "gen_ai.operation.name": "execute_tool",
      "gen_ai.tool.name": "lookup_order",
      "gen_ai.tool.type": "function",
      "gen_ai.tool.call.id": `call_${i}`,
      "gen_ai.tool.call.arguments": JSON.stringify({ order_id: `ORD-${i}` }),
      "gen_ai.request.model": "gpt-4.1",
      "gen_ai.conversation.id": "conv_node_1",
      "user.id": `usr_node_${i % 2}`,
      "toolaudit.result.summary": JSON.stringify({ status: "shipped" }),
      "toolaudit.success": true,
    },
  });
  span.setStatus({ code: SpanStatusCode.OK });
  const { traceId, spanId } = span.spanContext();
  span.end();
  console.log(`SPAN ${traceId} ${spanId}`);
}

await provider.forceFlush();
await provider.shutdown();
console.log("DONE");
