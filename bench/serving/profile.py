"""Where the time of a load-test run went, from two /metrics snapshots taken before and after it (stdin: JSON
{"label", "before", "after"} with the exposition texts). Mean per request, from the service's own histograms:
  httpMs       the request inside ASP.NET Core (middleware to response written; excludes socket and wrk time)
  inferenceMs  from the parsed request to the engine's answer (queue wait + compute)
  queueMs      waiting in the batch queue (for the batch to fill or the engine to be free)
  computeMs    inferenceMs - queueMs: the engine batch the request rode in
  parseWriteMs httpMs - inferenceMs: admission, body read, parsing, model lookup, response writing
and the mean engine batch (rows and requests). Prints one JSON line.
"""
import json
import re
import sys

FAMILIES = {
    # prometheus-net's family, or the hand-written exporter's before it (for before/after runs of older builds).
    "http": r'^(?:http|flowservice_http)_request_duration_seconds_(sum|count)\{[^}]*(?:endpoint|route)="/score"',
    "inference": r'^flowservice_inference_duration_seconds_(sum|count)\{[^}]*operation="score"',
    "queue": r'^flowservice_inference_queue_delay_seconds_(sum|count)\{[^}]*operation="score"',
    "batchRows": r'^flowservice_inference_batch_size_(sum|count)\{[^}]*operation="score"',
    "batchRequests": r'^flowservice_inference_batch_requests_(sum|count)\{[^}]*operation="score"',
}


def totals(text):
    result = {}
    for name, pattern in FAMILIES.items():
        s = c = 0.0
        for line in text.splitlines():
            m = re.match(pattern, line)
            if m:
                value = float(line.rsplit(" ", 1)[1])
                if m.group(1) == "sum":
                    s += value
                else:
                    c += value
        result[name] = (s, c)
    return result


run = json.load(sys.stdin)
before, after = totals(run["before"]), totals(run["after"])


def mean(name, scale=1.0):
    s = after[name][0] - before[name][0]
    c = after[name][1] - before[name][1]
    return round(s / c * scale, 4) if c else None


http, inference, queue = mean("http", 1000), mean("inference", 1000), mean("queue", 1000)
print(json.dumps({
    "label": run["label"], "profile": {
        "httpMs": http, "inferenceMs": inference, "queueMs": queue,
        "computeMs": round(inference - queue, 4) if inference is not None and queue is not None else None,
        "parseWriteMs": round(http - inference, 4) if http is not None and inference is not None else None,
        "meanBatchRows": mean("batchRows"), "meanBatchRequests": mean("batchRequests"),
    }}))
