import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createRunner } from "@reclaim/core";
import { describe, expect, it } from "vitest";
import { startTelemetry } from "./telemetry.ts";

describe("startTelemetry()", () => {
  it("does nothing without OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    expect(await startTelemetry({})).toBeNull();
  });

  it("exports the runner's root span over OTLP/HTTP to OTEL_EXPORTER_OTLP_ENDPOINT", async () => {
    const received: Array<{ url: string; body: string }> = [];
    const collector = createServer((request, response) => {
      let body = "";
      request.on("data", (chunk) => (body += chunk));
      request.on("end", () => {
        received.push({ url: request.url ?? "", body });
        response.writeHead(200, { "content-type": "application/json" }).end("{}");
      });
    });
    await new Promise<void>((resolve) => collector.listen(0, "127.0.0.1", resolve));
    const { port } = collector.address() as AddressInfo;
    const telemetry = await startTelemetry({ OTEL_EXPORTER_OTLP_ENDPOINT: `http://127.0.0.1:${port}` }, { version: "test" });
    expect(telemetry).not.toBeNull();
    try {
      const runner = createRunner({ name: "disk", spanName: "sweep disk", run: async () => ({ removed: 1, reclaimedBytes: 5 }) }, { enabled: true });
      await runner.runOnce();
    } finally {
      await telemetry!.shutdown();
      collector.close();
    }
    const traces = received.filter((request) => request.url === "/v1/traces");
    expect(traces.length).toBeGreaterThan(0);
    const payload = traces.map((request) => request.body).join("\n");
    expect(payload).toContain("sweep disk");
    expect(payload).toContain("reclaim.hook");
  });
});
