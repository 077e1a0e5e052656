import pytest

from fala.local.assembly import Resolver, Stack, UnknownIntrinsic

TEMPLATE = {
    "Resources": {
        "Fn1": {"Type": "AWS::Lambda::Function"},
        "Bucket9": {"Type": "AWS::S3::Bucket"},
        "Machine": {"Type": "AWS::StepFunctions::StateMachine"},
        "Bus": {"Type": "AWS::Events::EventBus"},
        "Queue": {"Type": "AWS::SQS::Queue"},
    }
}


@pytest.fixture
def resolver(tmp_path):
    return Resolver(Stack("S", TEMPLATE, tmp_path))


def test_a_definition_string_join_resolves_to_plain_text(resolver):
    definition = {
        "Fn::Join": [
            "",
            [
                '{"Resource":"arn:',
                {"Ref": "AWS::Partition"},
                ':states:::lambda:invoke","F":"',
                {"Fn::GetAtt": ["Fn1", "Arn"]},
                '","B":"',
                {"Ref": "Bucket9"},
                '"}',
            ],
        ]
    }
    assert resolver.resolve(definition) == (
        '{"Resource":"arn:aws:states:::lambda:invoke",'
        '"F":"arn:aws:lambda:us-east-1:123456789012:function:Fn1","B":"local-bucket9"}'
    )


def test_refs_follow_cloudformation_return_values(resolver):
    assert resolver.ref("Machine") == "arn:aws:states:us-east-1:123456789012:stateMachine:Machine"
    assert resolver.ref("Bus") == "Bus"
    assert resolver.ref("Queue").endswith("/123456789012/Queue")
    assert resolver.get_att("Queue", "QueueName") == "Queue"


@pytest.mark.parametrize(
    "value", [{"Fn::ImportValue": "x"}, {"Fn::If": ["c", 1, 2]}, {"Fn::GetAtt": ["Fn1", "Nope"]}]
)
def test_unknown_intrinsics_raise_instead_of_passing_through(resolver, value):
    with pytest.raises(UnknownIntrinsic):
        resolver.resolve(value)
