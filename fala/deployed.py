"""`fala run` / `fala trace` against a deployed stack (outputs read from CloudFormation)."""

from __future__ import annotations

import json
import time
from email.header import Header
from typing import Any

import boto3

from fala.core.intake import execution_name
from fala.core.models import result_key


class DeployedStack:
    def __init__(self, stack_name: str, *, session: Any = None) -> None:
        session = session or boto3.Session()
        self.cfn = session.client("cloudformation")
        self.s3 = session.client("s3")
        self.sfn = session.client("stepfunctions")
        self.sqs = session.client("sqs")
        stacks = self.cfn.describe_stacks(StackName=stack_name)["Stacks"]
        self.outputs = {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}
        for required in ("UploadBucketName", "StateMachineArn"):
            if required not in self.outputs:
                raise RuntimeError(
                    f"Stack {stack_name} has no {required} output; is it a Fala stack?"
                )

    @property
    def bucket(self) -> str:
        return self.outputs["UploadBucketName"]

    def run(
        self, audio: bytes, *, key: str, metadata: dict[str, str], timeout: float = 900
    ) -> dict[str, Any]:
        started = time.monotonic()
        encoded = {
            k: v if v.isascii() else Header(v, "utf-8").encode(maxlinelen=0)
            for k, v in metadata.items()
        }
        put = self.s3.put_object(Bucket=self.bucket, Key=key, Body=audio, Metadata=encoded)
        name = execution_name(
            {
                "bucket": {"name": self.bucket},
                "object": {
                    "key": key,
                    "etag": put["ETag"].strip('"'),
                    "version-id": put.get("VersionId"),
                },
            }
        )
        arn = self.outputs["StateMachineArn"].replace(":stateMachine:", ":execution:") + f":{name}"
        status = self._wait(arn, deadline=started + timeout)
        return {
            "execution_arn": arn,
            "execution_name": name,
            "status": status,
            "result": self.result_document(key),
            "history": self.history(arn),
            "seconds": round(time.monotonic() - started, 3),
        }

    def _wait(self, arn: str, *, deadline: float) -> str:
        while time.monotonic() < deadline:
            try:
                status = self.sfn.describe_execution(executionArn=arn)["status"]
            except self.sfn.exceptions.ExecutionDoesNotExist:
                status = "PENDING"  # the EventBridge → start Lambda hop takes a moment
            if status not in ("PENDING", "RUNNING"):
                return status
            time.sleep(1.0)
        raise TimeoutError(f"{arn} did not finish in time; see `fala trace --stack …`")

    def result_document(self, key: str) -> dict[str, Any] | None:
        try:
            body = self.s3.get_object(Bucket=self.bucket, Key=result_key(key))["Body"].read()
        except self.s3.exceptions.NoSuchKey:
            return None
        return json.loads(body)

    def latest_execution(self) -> str:
        listed = self.sfn.list_executions(
            stateMachineArn=self.outputs["StateMachineArn"], maxResults=1
        )
        if not listed["executions"]:
            raise FileNotFoundError("The state machine has no executions yet.")
        return listed["executions"][0]["executionArn"]

    def history(self, arn: str) -> list[dict[str, Any]]:
        pages = self.sfn.get_paginator("get_execution_history").paginate(executionArn=arn)
        return json.loads(json.dumps([e for page in pages for e in page["events"]], default=str))


def post_json(
    url: str, body: dict[str, Any], *, session: Any = None, timeout: float = 60
) -> tuple[int, dict[str, Any]]:
    """POST `body` to a Function URL: (status, JSON answer). With a boto3 `session`, the request
    is signed (SigV4, service "lambda") as an AWS_IAM-authenticated URL requires."""
    return call_json("POST", url, body, session=session, timeout=timeout)


def call_json(
    method: str,
    url: str,
    body: dict[str, Any] | None,
    *,
    session: Any = None,
    timeout: float = 60,
) -> tuple[int, dict[str, Any]]:
    """`method` `url` with an optional JSON body: (status, JSON answer); signed with `session`."""
    import urllib.error
    import urllib.request

    if not url.startswith(("http://", "https://")):
        raise RuntimeError(f"{url!r} is not an http(s) URL.")
    data = None if body is None else json.dumps(body).encode()
    headers = {} if body is None else {"content-type": "application/json"}
    if session is not None:
        from botocore.auth import SigV4Auth
        from botocore.awsrequest import AWSRequest

        credentials = session.get_credentials()
        if credentials is None:
            raise RuntimeError("No AWS credentials to sign the request with.")
        signed = AWSRequest(method=method, url=url, data=data, headers=headers)
        SigV4Auth(credentials.get_frozen_credentials(), "lambda", session.region_name).add_auth(
            signed
        )
        headers = dict(signed.headers.items())
    request = urllib.request.Request(url, data=data, headers=headers, method=method)  # noqa: S310 (http(s) checked)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:  # noqa: S310
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as error:
        payload = error.read()
        try:
            return error.code, json.loads(payload)
        except ValueError:
            return error.code, {"error": "http_error", "message": payload.decode(errors="replace")}
