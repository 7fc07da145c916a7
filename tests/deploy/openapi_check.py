"""Lints an OpenAPI 3.1 description and checks real responses against it.

Usage: openapi_check.py SPEC.json SAMPLES.json
SAMPLES is a list of {"method", "path" (the template, e.g. /api/token/{profile}),
"status", "content_type", "body" (parsed JSON, or null)}. Every sample's status
must be documented for its operation, and its body must match the schema
documented for that status and content type. Exits 1 listing every mismatch.
"""

import json
import sys

import jsonschema
from openapi_spec_validator import validate


def main(spec_path, samples_path):
    with open(spec_path) as f:
        spec = json.load(f)
    with open(samples_path) as f:
        samples = json.load(f)
    validate(spec)
    problems = []
    for sample in samples:
        where = f"{sample['method'].upper()} {sample['path']} {sample['status']}"
        operation = spec["paths"].get(sample["path"], {}).get(sample["method"])
        if operation is None:
            problems.append(f"{where}: operation not described")
            continue
        response = operation["responses"].get(str(sample["status"]))
        if response is None:
            problems.append(f"{where}: status not described")
            continue
        if sample["body"] is None:
            continue
        media = response.get("content", {}).get(sample["content_type"])
        if media is None:
            problems.append(f"{where}: content type {sample['content_type']} not described")
            continue
        # The components ride along so that `#/components/schemas/...` resolves.
        schema = dict(media["schema"], components=spec.get("components", {}))
        for error in jsonschema.Draft202012Validator(schema).iter_errors(sample["body"]):
            problems.append(f"{where}: {error.message}")
    for problem in problems:
        print(problem)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
