"""The GPU voice service on ECS: Whisper → LLaMA (Ollama sidecar) → XTTS, on EC2 GPU capacity.

- Capacity: an Auto Scaling group on the ECS GPU-optimized Amazon Linux 2023 AMI (resolved by
  CloudFormation from its public SSM parameter, not at synth), managed scaling, minimum 0.
- Task: the service container (`containers/voice_service`, one GPU) and an Ollama sidecar that
  pulls the configured model on start into a volume kept on the instance; they share localhost.
- Traffic: an internal ALB (idle timeout long enough for WebSocket turns), HTTPS only when
  `voice_certificate_arn` names an ACM certificate, else plain HTTP inside the VPC; the bearer
  token lives in Secrets Manager and reaches the container as a secret, never as plain text in
  the template.
- Jobs: the same tasks consume the pipeline's job queue; the service scales on queue depth (to
  zero when `voice_min_tasks` is 0) and on CPU.
"""

from __future__ import annotations

from pathlib import Path

from aws_cdk import Duration, IgnoreMode, RemovalPolicy
from aws_cdk import aws_applicationautoscaling as appscaling
from aws_cdk import aws_autoscaling as autoscaling
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecr_assets as ecr_assets
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra.config import FalaConfig
from infra.constructs.encryption import Encryption
from infra.constructs.voice_jobs import JobTimings
from infra.nag import acknowledge, skip_checkov

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = "containers/voice_service/Dockerfile"
BUILD_CONTEXT_EXCLUDE = [
    "*",
    "!fala/__init__.py",
    "!fala/core",
    "!containers/voice_service",
    "**/__pycache__",
    "**/*.pyc",
]
# Pinned: a moving tag would change the sidecar under a running service.
OLLAMA_IMAGE = "ollama/ollama:0.12.6"
SERVICE_PORT = 8000
OLLAMA_PORT = 11434
# Long enough for a WebSocket turn (upload, STT, LLM, TTS) without traffic in between.
ALB_IDLE_TIMEOUT = Duration.seconds(300)
# TLS 1.3, and TLS 1.2 for older clients with forward-secret AEAD ciphers only ("Res"); hybrid
# post-quantum key exchange (ML-KEM) for clients that offer it. Named, not the CDK default
# (which follows a feature flag), so the policy only changes here.
TLS_POLICY = elbv2.SslPolicy.TLS13_12_RES_PQ


class VoiceService(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        config: FalaConfig,
        job_queue: sqs.IQueue,
        results_bucket_name: str,
        encryption: Encryption,
    ) -> None:
        super().__init__(scope, id)
        self.vpc = self._vpc(config)
        private = ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS)
        if config.vpc_id:
            private = ec2.SubnetSelection(subnets=self.vpc.private_subnets)

        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )
        self.instances = autoscaling.AutoScalingGroup(
            self,
            "GpuInstances",
            vpc=self.vpc,
            vpc_subnets=private,
            instance_type=ec2.InstanceType(config.voice_instance_type),
            machine_image=ecs.EcsOptimizedImage.amazon_linux2023(
                hardware_type=ecs.AmiHardwareType.GPU
            ),
            min_capacity=0,
            max_capacity=config.voice_max_tasks,
            require_imdsv2=True,
            block_devices=[
                autoscaling.BlockDevice(
                    device_name="/dev/xvda",
                    # Images with CUDA and the models are large.
                    volume=autoscaling.BlockDeviceVolume.ebs(
                        150, encrypted=True, volume_type=autoscaling.EbsDeviceVolumeType.GP3
                    ),
                )
            ],
        )
        capacity = ecs.AsgCapacityProvider(
            self,
            "GpuCapacity",
            auto_scaling_group=self.instances,
            enable_managed_scaling=True,
            # ECS drains instances before scale-in itself, so CDK adds no drain-hook Lambda.
            enable_managed_draining=True,
            enable_managed_termination_protection=False,
        )
        self.cluster.add_asg_capacity_provider(capacity)

        self.token = secretsmanager.Secret(
            self,
            "ApiToken",
            description="Bearer token of the Fala voice service API",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                password_length=48, exclude_punctuation=True
            ),
        )
        encryption.encrypt_secret(self.token)  # its one reader, the execution role: below

        task = ecs.Ec2TaskDefinition(
            self,
            "Task",
            network_mode=ecs.NetworkMode.AWS_VPC,
            volumes=[ecs.Volume(name="ollama-models")],
        )
        log_group = logs.LogGroup(
            self, "Logs", retention=config.log_retention, removal_policy=RemovalPolicy.DESTROY
        )
        ollama = task.add_container(
            "Ollama",
            image=ecs.ContainerImage.from_registry(OLLAMA_IMAGE),
            memory_reservation_mib=6144,
            # ECS hands a GPU to one container only (the service's, below); the sidecar shares
            # it through the NVIDIA runtime. One A10G/L4 (24 GB) holds Whisper, XTTS and a 3B LLM.
            environment={"NVIDIA_VISIBLE_DEVICES": "all", "OLLAMA_KEEP_ALIVE": "-1"},
            entry_point=["/bin/sh", "-c"],
            # Serve, then pull the configured model once (cached in the volume across restarts).
            command=[f"ollama serve & sleep 5 && ollama pull {config.voice_llm_model} && wait"],
            port_mappings=[ecs.PortMapping(container_port=OLLAMA_PORT)],
            logging=ecs.LogDriver.aws_logs(stream_prefix="ollama", log_group=log_group),
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", f"ollama show {config.voice_llm_model} >/dev/null"],
                start_period=Duration.minutes(5),
                interval=Duration.seconds(30),
                retries=10,
            ),
        )
        ollama.add_mount_points(
            ecs.MountPoint(
                container_path="/root/.ollama", source_volume="ollama-models", read_only=False
            )
        )
        service_container = task.add_container(
            "Voice",
            image=ecs.ContainerImage.from_asset(
                str(REPO_ROOT),
                file=DOCKERFILE,
                exclude=BUILD_CONTEXT_EXCLUDE,
                ignore_mode=IgnoreMode.DOCKER,
                platform=ecr_assets.Platform.LINUX_AMD64,
            ),
            memory_reservation_mib=8192,
            gpu_count=1,
            port_mappings=[ecs.PortMapping(container_port=SERVICE_PORT)],
            environment={
                "LLM_BASE_URL": f"http://localhost:{OLLAMA_PORT}/v1",
                "LLM_MODEL": config.voice_llm_model,
                "JOB_QUEUE_URL": job_queue.queue_url,
                "RESULTS_BUCKET": results_bucket_name,
                # Beat interval, visibility renewal and back-off that fit the task's limits.
                **JobTimings.of(config).worker_environment(),
                "DEFAULT_LANGUAGE": config.default_language,
            },
            secrets={"VOICE_API_TOKEN": ecs.Secret.from_secrets_manager(self.token)},
            logging=ecs.LogDriver.aws_logs(stream_prefix="voice", log_group=log_group),
            health_check=ecs.HealthCheck(
                command=["CMD-SHELL", f"curl -fs http://localhost:{SERVICE_PORT}/health"],
                start_period=Duration.minutes(5),
            ),
        )
        service_container.add_container_dependencies(
            ecs.ContainerDependency(
                container=ollama, condition=ecs.ContainerDependencyCondition.HEALTHY
            )
        )

        self.service = ecs.Ec2Service(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=task,
            desired_count=config.voice_min_tasks,
            vpc_subnets=private,
            capacity_provider_strategies=[
                ecs.CapacityProviderStrategy(capacity_provider=capacity.capacity_provider_name)
            ],
            circuit_breaker=ecs.DeploymentCircuitBreaker(rollback=True),
            min_healthy_percent=0 if config.voice_min_tasks == 0 else 100,
        )

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=self.vpc,
            internet_facing=False,
            vpc_subnets=private,
            idle_timeout=ALB_IDLE_TIMEOUT,
            drop_invalid_header_fields=True,
        )
        listener = self._listener(config)
        self.load_balancer.connections.allow_from(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block),
            ec2.Port.tcp(self.listener_port),
            "Clients inside the VPC",
        )
        self.target_group = listener.add_targets(
            "Voice",
            port=SERVICE_PORT,
            protocol=elbv2.ApplicationProtocol.HTTP,
            targets=[self.service],
            health_check=elbv2.HealthCheck(path="/health"),
            deregistration_delay=Duration.seconds(30),
        )

        job_queue.grant_consume_messages(task.task_role)
        scaling = self.service.auto_scale_task_count(
            min_capacity=config.voice_min_tasks, max_capacity=config.voice_max_tasks
        )
        scaling.scale_on_cpu_utilization("Cpu", target_utilization_percent=70)
        scaling.scale_on_metric(
            "JobQueueDepth",
            metric=job_queue.metric_approximate_number_of_messages_visible(
                period=Duration.minutes(1)
            ),
            scaling_steps=[
                appscaling.ScalingInterval(upper=0, change=-1),
                appscaling.ScalingInterval(lower=1, change=+1),
                appscaling.ScalingInterval(lower=10, change=+2),
            ],
            adjustment_type=appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
            cooldown=Duration.minutes(5),
        )
        self.task_role = task.task_role
        if task.execution_role is not None:
            encryption.grant_via(task.execution_role, "secretsmanager", "kms:Decrypt")
        self._acknowledge(task)

    def _vpc(self, config: FalaConfig) -> ec2.IVpc:
        if config.vpc_id:
            return ec2.Vpc.from_vpc_attributes(
                self,
                "Vpc",
                vpc_id=config.vpc_id,
                availability_zones=config.availability_zones,
                private_subnet_ids=config.private_subnet_ids,
            )
        vpc = ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(name="public", subnet_type=ec2.SubnetType.PUBLIC),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS
                ),
            ],
        )
        vpc.add_flow_log("FlowLogs")
        return vpc

    def _listener(self, config: FalaConfig) -> elbv2.ApplicationListener:
        """HTTPS on 443 with the configured certificate, and then no port 80 at all: a redirect
        would answer a client that already sent its bearer token in clear text (and turn its
        POST into a GET); with nothing listening on 80, a plain-HTTP client cannot even connect.
        Without a certificate, plain HTTP on 80 inside the VPC."""
        self.https = config.voice_certificate_arn is not None
        if config.voice_certificate_arn is not None:
            self.listener_port = 443
            return self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_arn(config.voice_certificate_arn)],
                ssl_policy=TLS_POLICY,
                open=False,
            )
        self.listener_port = 80
        listener = self.load_balancer.add_listener("Http", port=80, open=False)
        reason = (
            "Internal ALB without a certificate: set fala:voice_certificate_arn (an ACM "
            "certificate for a domain you own) for HTTPS. Port 80 is open to the VPC's CIDR only "
            "and every API call carries the bearer token."
        )
        skip_checkov(listener, "CKV_AWS_2", reason)
        skip_checkov(listener, "CKV_AWS_103", reason)
        return listener

    def _acknowledge(self, task: ecs.TaskDefinition) -> None:
        no_access_logs = (
            "Internal ALB reached only from inside the VPC; the service logs every request with "
            "its latency to CloudWatch, which is where operators look. (ALB access logs need the "
            "region's ELB account at synth, which this env-agnostic stack does not know.)"
        )
        acknowledge(self.load_balancer, "ELB2", no_access_logs)
        skip_checkov(self.load_balancer, "CKV_AWS_91", no_access_logs)
        instance_policy = self.instances.role.node.find_child("DefaultPolicy")
        skip_checkov(
            instance_policy,
            "CKV_AWS_111",
            "CDK's ECS container-instance policy: the agent's logs:CreateLogStream/PutLogEvents "
            "and ecr:GetAuthorizationToken have no resource-level scoping; the ECS actions are "
            "scoped to this cluster.",
        )
        acknowledge(
            self.token,
            "SMG4",
            "The API token is a shared bearer secret handed to clients out of band; rotating it "
            "needs a client-side roll-out, so it is rotated by operators (documented), not a "
            "Lambda rotation schedule.",
        )
        acknowledge(
            self.instances,
            "AS3",
            "Scaling is driven by the ECS capacity provider; notifications are in ECS events.",
        )
        acknowledge(
            self.instances,
            "EC26",
            "The root volume is encrypted (BlockDeviceVolume.ebs(encrypted=True)).",
        )
        acknowledge(
            self.instances,
            "IAM5[Resource::*]",
            "The ECS container-instance policy CDK generates: ecs:DiscoverPollEndpoint, "
            "ecr:GetAuthorizationToken and logs actions have no resource-level permissions.",
        )
        acknowledge(
            self.instances,
            "IAM5[Action::ecs:Submit*]",
            "ecs:Submit* (container/task state changes) is the ECS agent's documented grant, "
            "scoped to this cluster.",
        )
        acknowledge(
            task,
            "IAM5[Resource::*]",
            "Execution role: ecr:GetAuthorizationToken has no resource-level permissions.",
        )
        acknowledge(
            self.load_balancer,
            "EC23",
            f"The load balancer's only inbound rule is its listener's port ({self.listener_port}) "
            "from the VPC's own CIDR (a token the check cannot evaluate); the listener is created "
            "closed (open=False).",
        )
        acknowledge(
            task,
            "ECS2",
            "Environment values are non-secret settings (URLs, model name); the token is injected "
            "from Secrets Manager.",
        )
