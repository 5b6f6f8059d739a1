#!/usr/bin/env python3
"""Validates the Kubernetes core objects in `deployc export argo-rollouts` output with
kubernetes-validate --strict.

kubernetes-validate knows the core API only: it has no schema for Argo's Rollout and
AnalysisTemplate (it warns "Couldn't find schema"), so those are validated against the
Argo CRDs by `cargo test --test export`. What it can check strictly is the core part of the
export:

* `deployment.yaml`, the server-side-apply configuration that sets the release's image on
  the Deployment a Rollout follows. It is partial by design (it owns only the image), so it is
  validated merged into a minimal Deployment, as the API server merges it into the team's;
* the pod template of a `--pod-template` export, validated as the template of a Deployment
  (both are a core PodTemplateSpec).

Usage: validate-argo-export.py DEPLOYC_BINARY
"""
import pathlib
import re
import subprocess
import sys
import tempfile

import yaml

deployc = sys.argv[1]
cases = []
for path in sorted(pathlib.Path("examples").glob("*.deploy")):
    text = path.read_text()
    if "argo_rollouts" not in text and "kubernetes {" not in text:
        continue
    envs, current = [], None
    for line in text.splitlines():
        m = re.match(r"environment (\w+)", line)
        if m:
            current = m.group(1)
        elif line.startswith("}"):
            current = None
        elif ("argo_rollouts" in line or "kubernetes {" in line) and current:
            envs.append(current)
            current = None
    for release in re.findall(r'^release "([^"]+)"', text, re.M):
        cases += [(path, release, env) for env in envs]
if not cases:
    sys.exit("no example uses argo_rollouts")

with tempfile.TemporaryDirectory() as tmp:
    files = []
    for i, (path, release, env) in enumerate(cases):
        for mode in ("ref", "template"):
            out = pathlib.Path(tmp) / f"{i}-{mode}"
            args = [deployc, "export", "argo-rollouts", str(path), "--release", release,
                    "--env", env, "-o", str(out)]
            if mode == "template":
                args.append("--pod-template")
            subprocess.run(args, check=True, stderr=subprocess.DEVNULL)
            rollout = yaml.safe_load((out / "rollout.yaml").read_text())
            name = rollout["metadata"]["name"]
            if mode == "ref":
                apply = yaml.safe_load((out / "deployment.yaml").read_text())
                merged = {
                    "apiVersion": apply["apiVersion"],
                    "kind": apply["kind"],
                    "metadata": apply["metadata"],
                    "spec": {
                        "selector": {"matchLabels": {"app": name}},
                        "template": {
                            "metadata": {"labels": {"app": name}},
                            "spec": apply["spec"]["template"]["spec"],
                        },
                    },
                }
            else:
                merged = {
                    "apiVersion": "apps/v1",
                    "kind": "Deployment",
                    "metadata": {"name": name, "namespace": rollout["metadata"]["namespace"]},
                    "spec": {
                        "selector": rollout["spec"]["selector"],
                        "template": rollout["spec"]["template"],
                    },
                }
            target = out / "core-deployment.yaml"
            target.write_text(yaml.safe_dump(merged))
            files.append(str(target))
    result = subprocess.run(["kubernetes-validate", "--strict", "-k", "1.33", *files])
    print(f"kubernetes-validate --strict: {len(files)} Deployments from {len(cases)} exports")
    sys.exit(result.returncode)
