"""Coverage tasks (issue 11): per task, the factory's build (launch → gate) beside its floor — a bare Gradio app
loading the same tiny model and answering one predict — run side by side in this one command, alternating; and
the share of the task tags the catalog knows that now have a template.

    .venv/bin/python bench/coverage_bench.py [--rounds 1] [--task chat --task text-to-image ...] [--out NAME.json]

Prints a table and writes bench/results/coverage_bench.json. Each task's first factory build also creates the
Space venv for that template's requirements (cold); later rounds reuse it (warm). The floor is what any hand-made
app must pay (process start, imports, model load, one predict); the build adds analysis, generation, the venv,
/health, view_api and two judged calls.

To add a task, add a `Floor` to `FLOORS`: the builder module and model name (tests/support/coverage_models*.py),
the floor app's loading code, its predict function, its Gradio components and the call's arguments.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_home import offline_env
from build_vs_floor import factory_once, floor_once

ROOT = Path(__file__).resolve().parents[1]

FLOOR_APP = '''
import os
import gradio as gr
from fastapi import FastAPI

MODEL_ID = os.environ["MODEL_ID"]
{load}
app = FastAPI()


@app.get("/health")
def health() -> dict:
    return {{"status": "ok"}}


{predict}


demo = gr.Interface(predict, {inputs}, {outputs}, api_name="predict", flagging_mode="never")
app = gr.mount_gradio_app(app, demo, path="/")

if __name__ == "__main__":
    import uvicorn
    uvicorn.run(app, host="127.0.0.1", port=int(os.environ["PORT"]), log_level="warning")
'''


@dataclass(frozen=True)
class Floor:
    """One task: the tiny model to build and the bare app that serves it."""

    module: str  # tests.support.<module> builds the model (python -m ... HF_HOME NAME)
    model: str
    load: str
    predict: str
    inputs: str
    outputs: str
    args: tuple[str, ...]  # "text:..." or "image" (a PNG sent with handle_file)


FLOORS: dict[str, Floor] = {
    "chat": Floor(
        "coverage_models", "tiny-chat-llama",
        'from transformers import pipeline\ng = pipeline("text-generation", model=MODEL_ID)',
        "def predict(message):\n    m = [{'role': 'user', 'content': message}]\n"
        "    return g(m, max_new_tokens=16, do_sample=False, return_full_text=False)[0]['generated_text']",
        "gr.Textbox()", "gr.Textbox()", ("text:Hello! What can you do?",)),
    "image-text-to-text": Floor(
        "coverage_models", "tiny-llava",
        'from transformers import pipeline\ng = pipeline("image-text-to-text", model=MODEL_ID)',
        "def predict(image, prompt):\n"
        "    m = [{'role': 'user', 'content': [{'type': 'image', 'image': image}, {'type': 'text', 'text': prompt}]}]\n"
        "    return g(text=m, generate_kwargs={'max_new_tokens': 16}, return_full_text=False)[0]['generated_text']",
        '[gr.Image(type="pil"), gr.Textbox()]', "gr.Textbox()", ("image", "text:Describe this image.")),
    "image-to-text": Floor(
        "coverage_models", "tiny-blip",
        'from transformers import pipeline\ng = pipeline("image-text-to-text", model=MODEL_ID)',
        "def predict(image):\n"
        "    return g(images=image, text='', generate_kwargs={'max_new_tokens': 16})[0]['generated_text']",
        'gr.Image(type="pil")', "gr.Textbox()", ("image",)),
    "text-to-image": Floor(
        "coverage_models", "tiny-sd",
        "import torch\nfrom diffusers import DiffusionPipeline\np = DiffusionPipeline.from_pretrained(MODEL_ID)",
        "def predict(prompt):\n    gen = torch.Generator().manual_seed(0)\n"
        "    return p(prompt, num_inference_steps=25, generator=gen).images[0]",
        "gr.Textbox()", 'gr.Image(type="pil")', ("text:a photo of a cat",)),
    "zero-shot-classification": Floor(
        "coverage_models", "tiny-nli",
        'from transformers import pipeline\ng = pipeline("zero-shot-classification", model=MODEL_ID)',
        "def predict(text, labels):\n    r = g(text, candidate_labels=[x.strip() for x in labels.split(',')])\n"
        "    return dict(zip(r['labels'], r['scores']))",
        "[gr.Textbox(), gr.Textbox()]", "gr.Label()", ("text:I loved this movie!", "text:cinema, politics, sport")),
    "question-answering": Floor(
        "coverage_models", "tiny-bert-qa",
        "import torch\nfrom transformers import AutoModelForQuestionAnswering, AutoTokenizer\n"
        "t = AutoTokenizer.from_pretrained(MODEL_ID)\nm = AutoModelForQuestionAnswering.from_pretrained(MODEL_ID)",
        "def predict(question, context):\n    enc = t(question, context, return_tensors='pt')\n"
        "    with torch.inference_mode():\n        out = m(**enc)\n"
        "    s, e = int(out.start_logits.argmax()), int(out.end_logits.argmax())\n"
        "    return t.decode(enc['input_ids'][0][s:max(s, e) + 1])",
        "[gr.Textbox(), gr.Textbox()]", "gr.Textbox()",
        ("text:Where does Alice live?", "text:Alice lives in London with her cat.")),
    # Vision and audio (C2): tests/support/coverage_models_media.py
    "object-detection": Floor(
        "coverage_models_media", "tiny-yolos",
        'from transformers import pipeline\ng = pipeline("object-detection", model=MODEL_ID)',
        "def predict(image):\n    return g(image, threshold=0.0)[:5]",
        'gr.Image(type="pil")', "gr.JSON()", ("image",)),
    "image-segmentation": Floor(
        "coverage_models_media", "tiny-segformer",
        'import numpy as np\nfrom transformers import pipeline\ng = pipeline("image-segmentation", model=MODEL_ID)',
        "def predict(image):\n"
        "    return image, [(np.asarray(s['mask'], dtype=np.float32) / 255, s['label']) for s in g(image)]",
        'gr.Image(type="pil")', 'gr.AnnotatedImage(format="png")', ("image",)),
    "depth-estimation": Floor(
        "coverage_models_media", "tiny-dpt",
        'from transformers import pipeline\ng = pipeline("depth-estimation", model=MODEL_ID)',
        "def predict(image):\n    return g(image)['depth']",
        'gr.Image(type="pil")', 'gr.Image(type="pil", format="png")', ("image",)),
    "zero-shot-image-classification": Floor(
        "coverage_models_media", "tiny-clip",
        'from transformers import pipeline\ng = pipeline("zero-shot-image-classification", model=MODEL_ID)',
        "def predict(image, labels):\n    r = g(image, candidate_labels=[x.strip() for x in labels.split(',')])\n"
        "    return {x['label']: x['score'] for x in r}",
        '[gr.Image(type="pil"), gr.Textbox()]', "gr.Label()", ("image", "text:a cat, a dog, a car")),
    "audio-classification": Floor(
        "coverage_models_media", "tiny-audio-cls",
        "import soundfile as sf\nfrom transformers import pipeline\n"
        'g = pipeline("audio-classification", model=MODEL_ID)',
        "def predict(path):\n    data, rate = sf.read(path, dtype='float32')\n"
        "    return {x['label']: x['score'] for x in g({'raw': data, 'sampling_rate': rate})}",
        'gr.Audio(type="filepath")', "gr.Label()", ("audio",)),
    "text-to-speech": Floor(
        "coverage_models_media", "tiny-vits",
        'from transformers import pipeline\ng = pipeline("text-to-audio", model=MODEL_ID)',
        "def predict(text):\n    r = g(text)\n    return r['sampling_rate'], r['audio'].squeeze()",
        "gr.Textbox()", 'gr.Audio(type="numpy", format="wav")', ("text:the cat sat on the mat",)),
}


def _args(floor: Floor, workdir: Path) -> list[object]:
    from gradio_client import handle_file
    from PIL import Image

    values: list[object] = []
    for arg in floor.args:
        if arg == "image":
            path = workdir / "floor.png"
            Image.frombytes("RGB", (64, 48), bytes((i * 7) % 256 for i in range(64 * 48 * 3))).save(path)
            values.append(handle_file(str(path)))
        elif arg == "audio":
            from space_factory.worker.samples import write_wav

            values.append(handle_file(str(write_wav(workdir / "floor.wav"))))
        else:
            values.append(arg.removeprefix("text:"))
    return values


def floor_seconds(env: dict[str, str], floor: Floor, repo: str, workdir: Path) -> float:
    """Seconds from starting the task's bare app to its first predict answer (`build_vs_floor.floor_once`)."""
    app = FLOOR_APP.format(load=floor.load, predict=floor.predict, inputs=floor.inputs, outputs=floor.outputs)
    return floor_once(env, repo, workdir, app_text=app, predict_args=_args(floor, workdir))


def template_share() -> dict[str, object]:
    """The catalog's task tags with a template (chat is a text-generation variant, not a tag of its own)."""
    from space_factory.domain.tasks import TASKS

    templated = sorted(task for task, spec in TASKS.items() if spec.template)
    missing = sorted(task for task, spec in TASKS.items() if not spec.template)
    return {"tags": len(TASKS), "templated": len(templated), "share": len(templated) / len(TASKS),
            "templated_tasks": templated, "without_template": missing}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--task", action="append", choices=sorted(FLOORS), help="default: every task")
    parser.add_argument("--out", default="coverage_bench.json", help="file name under bench/results/")
    args = parser.parse_args()
    tasks = args.task or list(FLOORS)
    rows: dict[str, dict[str, object]] = {}
    with tempfile.TemporaryDirectory(prefix="sf-coverage-bench-") as tmp:
        base = Path(tmp)
        env = offline_env(base, models=False)
        for task in tasks:
            floor = FLOORS[task]
            built = subprocess.run([sys.executable, "-m", f"tests.support.{floor.module}", env["HF_HOME"],
                                    floor.model], env=env, check=True, capture_output=True, text=True, cwd=ROOT)
            repo = json.loads(built.stdout.strip().splitlines()[-1])[floor.model]
            floors, builds = [], []
            for round_index in range(args.rounds):
                # Alternate which goes first: the first process to import a model's modules pays cold caches.
                if round_index % 2 == 0:
                    floors.append(floor_seconds(env, floor, repo, base))
                    builds.append(factory_once(env, repo)[0])
                else:
                    builds.append(factory_once(env, repo)[0])
                    floors.append(floor_seconds(env, floor, repo, base))
            rows[task] = {"model": repo, "floor_s": floors, "build_s": builds,
                          "ratio": statistics.median(builds) / statistics.median(floors)}
            print(f"{task:26} floor {statistics.median(floors):6.1f} s   build {statistics.median(builds):6.1f} s   "
                  f"x{rows[task]['ratio']:.2f}", flush=True)
    share = template_share()
    result = {"rounds": args.rounds, "tasks": rows, "template_share": share}
    out = ROOT / "bench" / "results" / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2))
    print(f"task tags with a template: {share['templated']} of {share['tags']} ({share['share']:.0%}); "
          f"without: {', '.join(share['without_template'])}")  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
