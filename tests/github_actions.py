"""Runs a composite action's steps (action.yml) as GitHub's runner does, for the tests.

What the runner gives each step, and nothing more: `${{ … }}` substituted in `env` and `run` (dotted
names only: inputs.*, github.*, runner.*, steps.<id>.outputs.*, and what the caller's context adds),
`shell: bash` as `bash --noprofile --norc -eo pipefail FILE`, GITHUB_ACTION_PATH, a new GITHUB_OUTPUT
file per step (`name=value` lines, the last value wins, `name<<DELIM` blocks), RUNNER_TEMP,
GITHUB_WORKSPACE as the working folder, CI and GITHUB_ACTIONS. A composite action's steps get no
INPUT_* variables (actions/runner#665), so none are set here either: an action that relied on
them would pass here and break on GitHub.
"""

from __future__ import annotations

import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

EXPR = re.compile(r"\$\{\{\s*(.*?)\s*\}\}")
NAME = re.compile(r"[A-Za-z_][\w-]*(\.[A-Za-z_][\w-]*)*")


@dataclass
class ActionRun:
    code: int
    stdout: str
    stderr: str
    outputs: dict[str, str]
    step_outputs: dict[str, dict[str, str]] = field(default_factory=dict)


def substitute(text: str, context: dict[str, str]) -> str:
    def value(m: re.Match[str]) -> str:
        expr = m.group(1)
        assert NAME.fullmatch(expr), f"expression {expr!r}: only dotted names are emulated"
        return context.get(expr, "")  # GitHub gives '' for what is not there

    return EXPR.sub(value, str(text))


def read_outputs(path: Path) -> dict[str, str]:
    found: dict[str, str] = {}
    lines = iter(path.read_text(encoding="utf-8").splitlines()) if path.exists() else iter(())
    for line in lines:
        if "<<" in line and "=" not in line.split("<<", 1)[0]:
            name, delim = line.split("<<", 1)
            body = []
            for more in lines:
                if more == delim:
                    break
                body.append(more)
            found[name] = "\n".join(body)
        elif "=" in line:
            name, value = line.split("=", 1)
            found[name] = value
    return found


def run_action(action_dir: Path, inputs: dict[str, str], *, env: dict[str, str], runner_temp: Path,
               workspace: Path, context: dict[str, str] | None = None) -> ActionRun:
    """Run every step of `action_dir/action.yml` with `inputs` (the step's `with:`) and `env` (the
    runner's environment plus the calling step's `env:`)."""
    action = yaml.safe_load((action_dir / "action.yml").read_text(encoding="utf-8"))
    assert action["runs"]["using"] == "composite"
    declared: dict[str, Any] = action.get("inputs") or {}
    unknown = set(inputs) - set(declared)
    assert not unknown, f"inputs not declared in action.yml: {unknown}"
    ctx = {**(context or {}), "github.action_path": str(action_dir), "runner.temp": str(runner_temp),
           "github.workspace": str(workspace)}
    for name, spec in declared.items():
        given = inputs.get(name, spec.get("default", ""))
        assert not (spec.get("required") and given in ("", None)), f"input {name} is required"
        ctx[f"inputs.{name}"] = str(given if given is not None else "")
    base = {**env, "GITHUB_ACTION_PATH": str(action_dir), "RUNNER_TEMP": str(runner_temp),
            "GITHUB_WORKSPACE": str(workspace), "CI": "true", "GITHUB_ACTIONS": "true"}
    stdout, stderr, code = [], [], 0
    step_outputs: dict[str, dict[str, str]] = {}
    for i, step in enumerate(action["runs"]["steps"]):
        assert step.get("shell") == "bash" and "run" in step and "if" not in step and "uses" not in step, step
        output_file = runner_temp / f"_output_{i}"
        output_file.write_text("")
        script = runner_temp / f"_step_{i}.sh"
        script.write_text(substitute(step["run"], ctx), encoding="utf-8")
        step_env = {**base, **{k: substitute(v, ctx) for k, v in (step.get("env") or {}).items()},
                    "GITHUB_OUTPUT": str(output_file)}
        p = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", str(script)], env=step_env,
                           cwd=workspace / step.get("working-directory", "."), capture_output=True, text=True,
                           timeout=600)
        stdout.append(p.stdout)
        stderr.append(p.stderr)
        outputs = read_outputs(output_file)
        if step.get("id"):
            step_outputs[step["id"]] = outputs
            ctx.update({f"steps.{step['id']}.outputs.{k}": v for k, v in outputs.items()})
        if p.returncode != 0:
            code = p.returncode
            break
    declared_outputs = action.get("outputs") or {}
    return ActionRun(code, "".join(stdout), "".join(stderr),
                     {name: substitute(spec["value"], ctx) for name, spec in declared_outputs.items()}, step_outputs)


def workflow_step(workflow: Path, job: str, uses: str) -> dict[str, Any]:
    steps = yaml.safe_load(workflow.read_text(encoding="utf-8"))["jobs"][job]["steps"]
    return next(s for s in steps if str(s.get("uses", "")).startswith(uses))
