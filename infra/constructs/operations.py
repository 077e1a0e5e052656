"""What operators watch: one CloudWatch dashboard and the alarms that page them (via one SNS
topic; subscribe an address with `-c fala:alarm_email=…`)."""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_stepfunctions as sfn
from constructs import Construct

from infra.constructs.encryption import Encryption
from infra.nag import acknowledge

FIVE_MINUTES = Duration.minutes(5)
# A job older than this is waiting for GPU capacity (scale-out from zero takes a few minutes).
JOB_AGE_ALARM_SECONDS = 900


class Operations(Construct):
    def __init__(
        self,
        scope: Construct,
        id: str,
        *,
        state_machine: sfn.StateMachine,
        functions: Mapping[str, lambda_.Function],
        dead_letter_queues: Mapping[str, sqs.IQueue],
        job_queue: sqs.IQueue | None,
        alarm_email: str | None,
        encryption: Encryption,
        dead_letter_hints: Mapping[str, str] | None = None,
    ) -> None:
        """`dead_letter_hints`: what to do with a queue's dead letters, if not `fala redrive`."""
        super().__init__(scope, id)
        # CloudWatch may use the customer-managed key (its key policy says so), not SNS's own.
        self.topic = sns.Topic(
            self,
            "Alarms",
            display_name="Fala alarms",
            enforce_ssl=True,
            master_key=encryption.key,
        )
        if encryption.key is None:
            acknowledge(
                self.topic,
                "SNS2",
                "CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS "
                "key; the messages carry alarm names and states only (fala:kms_key encrypts it).",
            )
        self.topic.add_to_resource_policy(
            iam.PolicyStatement(
                sid="CloudWatchAlarmsOnly",
                principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                actions=["sns:Publish"],
                resources=[self.topic.topic_arn],
            )
        )
        if alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(alarm_email))
        self.alarms: list[cw.Alarm] = []

        failed = state_machine.metric_failed(period=FIVE_MINUTES, statistic="Sum")
        timed_out = state_machine.metric_timed_out(period=FIVE_MINUTES, statistic="Sum")
        duration = state_machine.metric_time(period=FIVE_MINUTES, statistic="p95")
        self._alarm("PipelineFailures", failed, 1, "Pipeline executions failed outright")
        self._alarm("PipelineTimeouts", timed_out, 1, "Pipeline executions timed out")
        # Alarm on p95 beyond ten minutes: far above a validation or one conversational turn.
        self._alarm("PipelineSlow", duration, 600_000, "Pipeline p95 duration over 10 minutes")

        lambda_widgets: list[cw.IWidget] = []
        for name, function in functions.items():
            errors = function.metric_errors(period=FIVE_MINUTES, statistic="Sum")
            throttles = function.metric_throttles(period=FIVE_MINUTES, statistic="Sum")
            p95 = function.metric_duration(period=FIVE_MINUTES, statistic="p95")
            self._alarm(f"{name}Errors", errors, 1, f"{name}: invocations failed")
            self._alarm(f"{name}Throttles", throttles, 1, f"{name}: invocations throttled")
            timeout_ms = function.timeout.to_milliseconds() if function.timeout else 3000
            self._alarm(
                f"{name}NearTimeout", p95, 0.8 * timeout_ms, f"{name}: p95 over 80 % of timeout"
            )
            lambda_widgets.append(
                cw.GraphWidget(
                    title=f"{name}: errors, throttles / p95 ms",
                    left=[errors, throttles],
                    right=[p95],
                    width=8,
                )
            )

        queue_widgets: list[cw.IWidget] = []
        for name, queue in dead_letter_queues.items():
            depth = queue.metric_approximate_number_of_messages_visible(
                period=FIVE_MINUTES, statistic="Maximum"
            )
            hint = (dead_letter_hints or {}).get(name, "see fala redrive")
            self._alarm(f"{name}DeadLetters", depth, 1, f"{name}: messages parked; {hint}")
            queue_widgets.append(
                cw.GraphWidget(title=f"{name} dead letters", left=[depth], width=8)
            )
        if job_queue is not None:
            age = job_queue.metric_approximate_age_of_oldest_message(
                period=FIVE_MINUTES, statistic="Maximum"
            )
            self._alarm(
                "VoiceJobsWaiting", age, JOB_AGE_ALARM_SECONDS, "GPU jobs waiting over 15 minutes"
            )
            queue_widgets.append(cw.GraphWidget(title="Voice job age (s)", left=[age], width=8))

        self.dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(6))
        self.dashboard.add_widgets(
            cw.GraphWidget(title="Pipeline executions", left=[failed, timed_out], width=12),
            cw.GraphWidget(title="Pipeline p95 duration (ms)", left=[duration], width=12),
        )
        self.dashboard.add_widgets(*lambda_widgets)
        self.dashboard.add_widgets(*queue_widgets)
        self.dashboard.add_widgets(
            cw.AlarmStatusWidget(title="Alarms", alarms=self.alarms, width=24)
        )

    def add_alarm(self, id: str, metric: cw.IMetric, threshold: float, description: str) -> None:
        """For capabilities that bring their own health metric (the GPU service)."""
        self._alarm(id, metric, threshold, description)

    def _alarm(self, id: str, metric: cw.IMetric, threshold: float, description: str) -> None:
        alarm = cw.Alarm(
            self,
            id,
            metric=metric,
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
            alarm_description=description,
        )
        alarm.add_alarm_action(cw_actions.SnsAction(self.topic))
        self.alarms.append(alarm)
