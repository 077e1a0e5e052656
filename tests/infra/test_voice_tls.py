"""fala:voice_certificate_arn: the voice service's load balancer speaks HTTPS only (443, a modern
TLS policy, no port 80 at all) when a certificate is configured, and plain HTTP inside the VPC,
acknowledged with how to turn TLS on, when none is."""

from __future__ import annotations

from typing import Any

import pytest
from cdk_synth import Synth, only
from checkov_scan import VARIANTS

from infra.config import ConfigError, FalaConfig

CERTIFICATE = VARIANTS["voice_tls"]["fala:voice_certificate_arn"]
TLS_POLICY = "ELBSecurityPolicy-TLS13-1-2-Res-PQ-2025-09"


def _listener(synth: Synth) -> dict[str, Any]:
    _, listener = only(synth.of_type("AWS::ElasticLoadBalancingV2::Listener"))
    return listener


def _load_balancer_ingress(synth: Synth) -> list[dict[str, Any]]:
    _, balancer = only(synth.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    (group_ref,) = balancer["Properties"]["SecurityGroups"]
    group = synth.resources[group_ref["Fn::GetAtt"][0]]
    return group["Properties"]["SecurityGroupIngress"]


def _checkov_skips(resource: dict[str, Any]) -> dict[str, str]:
    skips = resource.get("Metadata", {}).get("checkov", {}).get("skip", [])
    return {skip["id"]: skip["comment"] for skip in skips}


# --- config ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "arn",
    [
        CERTIFICATE,
        "arn:aws-cn:acm:cn-north-1:123456789012:certificate/0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f",
        "arn:aws-us-gov:acm:us-gov-west-1:123456789012:certificate/"
        "0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f",
    ],
)
def test_certificate_arn_accepts_acm_certificates(arn: str) -> None:
    config = FalaConfig.from_context(
        {"fala:voice_service": "true", "fala:voice_certificate_arn": arn}
    )
    assert config.voice_certificate_arn == arn


@pytest.mark.parametrize(
    "arn",
    [
        "voice.example.com",
        "0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f",
        # IAM server certificates and private CAs are not ACM certificates.
        "arn:aws:iam::123456789012:server-certificate/voice",
        "arn:aws:acm-pca:us-east-1:123456789012:certificate-authority/"
        "0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f",
        "arn:aws:acm:us-east-1:1234:certificate/0b0b0b0b-1c1c-2d2d-3e3e-4f4f4f4f4f4f",
        "arn:aws:acm:us-east-1:123456789012:certificate/not-an-id",
    ],
)
def test_certificate_arn_rejects_anything_else_saying_what_it_wants(arn: str) -> None:
    with pytest.raises(ConfigError) as info:
        FalaConfig.from_context({"fala:voice_service": "true", "fala:voice_certificate_arn": arn})
    message = str(info.value)
    assert "fala:voice_certificate_arn" in message
    assert "must be an ACM certificate ARN" in message
    assert "arn:aws:acm:<region>:<account>:certificate/<id>" in message
    assert repr(arn) in message


def test_certificate_needs_the_voice_service() -> None:
    with pytest.raises(ConfigError, match="voice_certificate_arn is for the voice service"):
        FalaConfig.from_context({"fala:voice_certificate_arn": CERTIFICATE})


# --- no certificate: plain HTTP inside the VPC -----------------------------------------------


def test_without_a_certificate_http_on_80_from_the_vpc_only(voice_synth: Synth) -> None:
    listener = _listener(voice_synth)
    assert listener["Properties"]["Port"] == 80
    assert listener["Properties"]["Protocol"] == "HTTP"
    assert "Certificates" not in listener["Properties"]
    (ingress,) = _load_balancer_ingress(voice_synth)
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (80, 80, "tcp")
    assert ingress["CidrIp"]["Fn::GetAtt"][1] == "CidrBlock"  # the VPC's own range
    skips = _checkov_skips(listener)
    assert set(skips) == {"CKV_AWS_2", "CKV_AWS_103"}
    for reason in skips.values():
        assert "set fala:voice_certificate_arn" in reason
        assert "for HTTPS" in reason
    outputs = voice_synth.template.to_json()["Outputs"]
    assert outputs["VoiceServiceUrl"]["Value"]["Fn::Join"][1][0] == "http://"


# --- a certificate: HTTPS only -----------------------------------------------------------------


def test_with_a_certificate_only_https_on_443_with_a_modern_policy(
    voice_tls_synth: Synth,
) -> None:
    listener = _listener(voice_tls_synth)  # only one: no port-80 listener, not even a redirect
    properties = listener["Properties"]
    assert (properties["Port"], properties["Protocol"]) == (443, "HTTPS")
    assert properties["Certificates"] == [{"CertificateArn": CERTIFICATE}]
    assert properties["SslPolicy"] == TLS_POLICY
    (action,) = properties["DefaultActions"]
    assert action["Type"] == "forward"
    # checkov's HTTPS and TLS >= 1.2 checks pass: nothing is acknowledged on the listener.
    assert _checkov_skips(listener) == {}


def test_with_a_certificate_the_vpc_may_reach_443_only(voice_tls_synth: Synth) -> None:
    (ingress,) = _load_balancer_ingress(voice_tls_synth)
    assert (ingress["FromPort"], ingress["ToPort"], ingress["IpProtocol"]) == (443, 443, "tcp")
    assert ingress["CidrIp"]["Fn::GetAtt"][1] == "CidrBlock"


def test_with_a_certificate_tls_ends_at_the_load_balancer(voice_tls_synth: Synth) -> None:
    """The tasks behind it still answer HTTP on the service port, inside the private subnets."""
    _, group = only(voice_tls_synth.of_type("AWS::ElasticLoadBalancingV2::TargetGroup"))
    assert (group["Properties"]["Port"], group["Properties"]["Protocol"]) == (8000, "HTTP")
    assert group["Properties"]["HealthCheckPath"] == "/health"


def test_with_a_certificate_the_service_url_is_https(voice_tls_synth: Synth) -> None:
    output = voice_tls_synth.template.to_json()["Outputs"]["VoiceServiceUrl"]
    scheme, dns_name = output["Value"]["Fn::Join"][1]
    assert scheme == "https://"
    balancer_id, _ = only(voice_tls_synth.of_type("AWS::ElasticLoadBalancingV2::LoadBalancer"))
    assert dns_name == {"Fn::GetAtt": [balancer_id, "DNSName"]}
    assert "certificate's domain" in output["Description"]


def test_tls_changes_only_the_load_balancer(voice_synth: Synth, voice_tls_synth: Synth) -> None:
    """Everything but the listener, its target group (renamed with it), the security group's
    port and the output is the plain voice stack."""
    plain = set(voice_synth.resources)
    tls = set(voice_tls_synth.resources)
    assert {voice_synth.resources[k]["Type"] for k in plain - tls} == {
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    }
    assert {voice_tls_synth.resources[k]["Type"] for k in tls - plain} == {
        "AWS::ElasticLoadBalancingV2::Listener",
        "AWS::ElasticLoadBalancingV2::TargetGroup",
    }
