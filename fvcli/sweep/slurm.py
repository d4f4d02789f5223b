"""An sbatch script for a sweep: an array of render tasks, each taking its shard from the
Slurm array variables, then one collect task that runs when they have all ended."""

from __future__ import annotations

import os
import shlex
import shutil
import sys

from ..exit_codes import ExitCode
from ..outputs.records import STATE_FOLDER


def fvcli_command() -> str:
    """How the script calls fvcli: this very installation, so the tasks run the version
    that wrote the script (override with FVCLI=... when submitting)."""
    found = shutil.which("fvcli")
    if found:
        return os.path.abspath(found)
    return f"{shlex.quote(sys.executable)} -m fvcli"


def sbatch_script(job_file: str, out_dir: str, shards: int, resources: dict,
                  extra: str = "") -> str:
    """A bash script that submits the render array and the collect task and prints their
    job ids."""
    job_file, out_dir = os.path.abspath(job_file), os.path.abspath(out_dir)
    name = "fvcli-" + os.path.splitext(os.path.basename(job_file))[0]
    logs = os.path.join(out_dir, STATE_FOLDER, "slurm")
    options = [f"--{key.replace('_', '-')}={value}" for key, value in resources.items()
               if value is not None]
    options += shlex.split(extra)
    directives = "".join(f"#SBATCH {option}\n" for option in options)
    collect_directives = "".join(f"#SBATCH {option}\n" for option in options
                                 if option.startswith(("--partition", "--account")))
    hub_cache = os.environ.get("TFHUB_CACHE_DIR")
    hub_line = (f"export TFHUB_CACHE_DIR=${{TFHUB_CACHE_DIR:-{shlex.quote(hub_cache)}}}\n"
                if hub_cache else
                "# export TFHUB_CACHE_DIR=/shared/tfhub   # filled once by `fvcli model fetch`\n")
    q = shlex.quote
    fvcli = f"${{FVCLI:-{fvcli_command()}}}"  # the tasks also work where sbatch exports nothing
    return f"""#!/bin/bash
# A sweep of {job_file} on Slurm, written by `fvcli slurm`.
# Submits an array of {shards} render tasks (each renders its shard of the units: fvcli reads
# SLURM_ARRAY_TASK_ID), then a collect task that runs when all of them have ended, however
# they ended, and writes each job's grid.png and manifest.json and {out_dir}/index.html.
# Run it with bash on a login node; it prints the two job ids. If either cannot be
# submitted, it cancels what it submitted, removes the folders it made and exits 1.
#
# A task stopped by SIGTERM (time limit, preemption) exits {ExitCode.STOPPED:d} with
# everything it finished kept; preempted tasks are requeued, and submitting this script
# again renders only what is missing. Check progress with: fvcli status {q(out_dir)}
#
# Compute nodes often have no internet: run `fvcli model fetch` once on a machine with it,
# with TFHUB_CACHE_DIR on a disk the nodes share, and export the same TFHUB_CACHE_DIR here.
set -euo pipefail
export FVCLI={fvcli}
{hub_line}
# The folders made here are removed again if nothing could be submitted.
made=()
folder={q(logs)}
while [ ! -e "$folder" ]; do made+=("$folder"); folder=$(dirname "$folder"); done
mkdir -p {q(logs)}
undo() {{
    if [ -n "${{1:-}}" ]; then
        scancel "$1" || true
        echo "render array $1 cancelled: its collect task could not be submitted" >&2
    fi
    if [ ${{#made[@]}} -gt 0 ]; then rmdir "${{made[@]}}" 2>/dev/null || true; fi
    exit 1
}}

array_id=$(sbatch --parsable <<'SBATCH'
#!/bin/bash
#SBATCH --job-name={name}
#SBATCH --array=0-{shards - 1}
#SBATCH --output={logs}/render-%A_%a.log
#SBATCH --open-mode=append
#SBATCH --requeue
{directives}# Site setup (module loads, environment activation) goes here.
trap 'echo "fvcli task: SIGTERM received, stopping after the current step"' TERM
{fvcli} render {q(job_file)} --out {q(out_dir)}
SBATCH
) || undo
array_id=${{array_id%%;*}}

collect_id=$(sbatch --parsable --dependency=afterany:$array_id <<'SBATCH'
#!/bin/bash
#SBATCH --job-name={name}-collect
#SBATCH --output={logs}/collect-%j.log
{collect_directives}{fvcli} collect {q(out_dir)}
SBATCH
) || undo "$array_id"
collect_id=${{collect_id%%;*}}
echo "render array: $array_id ({shards} tasks)"
echo "collect: $collect_id (after the array)"
"""
