import assert from "node:assert/strict";
import {
  addHistogram,
  createHistogram,
  type MetricDef,
  metricDefiners,
  observe,
  renderMetrics,
  single,
} from "./metrics.ts";
import { parsePrometheusText, sampleValue } from "./prometheus_parse.ts";

const { counter, histogram } = metricDefiners("all");
const COUNTER = counter("plane_test_total", "A counter\nwith a \\ in its help", {
  labels: ["kind"],
});
const HISTOGRAM = histogram("plane_test_seconds", "A histogram");

Deno.test("metricDefiners() stamps the type and endpoint; labels default to none", () => {
  const { gauge } = metricDefiners("drone");
  assert.deepEqual(
    gauge("plane_test_up", "Up", { labels: ["a"] }),
    {
      name: "plane_test_up",
      type: "gauge",
      help: "Up",
      labels: ["a"],
      source: "drone",
    } satisfies MetricDef,
  );
  assert.deepEqual(
    HISTOGRAM,
    {
      name: "plane_test_seconds",
      type: "histogram",
      help: "A histogram",
      labels: [],
      source: "all",
    } satisfies MetricDef,
  );
});

Deno.test("renderMetrics() writes counters with escaped labels that parse back", () => {
  const text = renderMetrics([{
    def: COUNTER,
    samples: [{ labels: ['a"b\\c\nd'], value: 3 }, { labels: ["plain"], value: 0.5 }],
  }]);
  assert.ok(text.startsWith("# HELP plane_test_total A counter\\nwith a \\\\ in its help\n"));
  const families = parsePrometheusText(text);
  assert.equal(families.get("plane_test_total")?.type, "counter");
  assert.equal(families.get("plane_test_total")?.help, "A counter\nwith a \\ in its help");
  assert.equal(sampleValue(families, "plane_test_total", { kind: 'a"b\\c\nd' }), 3);
  assert.equal(sampleValue(families, "plane_test_total", { kind: "plain" }), 0.5);
});

Deno.test("observe() fills buckets that render cumulative, ending at +Inf = count", () => {
  const h = createHistogram([0.1, 1]);
  for (const v of [0.05, 0.1, 0.5, 7]) observe(h, v);
  const other = createHistogram([0.1, 1]);
  observe(other, 0.2);
  addHistogram(h, other);
  const text = renderMetrics([single(HISTOGRAM, h)]);
  const families = parsePrometheusText(text);
  assert.equal(sampleValue(families, "plane_test_seconds_bucket", { le: "0.1" }), 2);
  assert.equal(sampleValue(families, "plane_test_seconds_bucket", { le: "1" }), 4);
  assert.equal(sampleValue(families, "plane_test_seconds_bucket", { le: "+Inf" }), 5);
  assert.equal(sampleValue(families, "plane_test_seconds_count"), 5);
  assert.ok(Math.abs(sampleValue(families, "plane_test_seconds_sum")! - 7.85) < 1e-9);
});

Deno.test("parsePrometheusText() refuses samples without a TYPE, duplicates and bad buckets", () => {
  assert.throws(() => parsePrometheusText("x 1\n"), /no # TYPE/);
  assert.throws(() => parsePrometheusText("# TYPE x gauge\nx 1\nx 2\n"), /twice/);
  assert.throws(() => parsePrometheusText("# TYPE x gauge\nx{a=b} 1\n"), /quoted/);
  assert.throws(() => parsePrometheusText("# TYPE x gauge\nx one\n"), /invalid value/);
  assert.throws(() => parsePrometheusText("# TYPE x gauge\nx 1"), /end with/);
  assert.throws(
    () =>
      parsePrometheusText(
        '# TYPE h histogram\nh_bucket{le="1"} 3\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 2\n',
      ),
    /cumulative/,
  );
  assert.throws(
    () => parsePrometheusText('# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n'),
    /\+Inf/,
  );
});
