from __future__ import annotations

import json

import pymysql

from app import lambda_handler
from bluegreen_ops.driver import RotationDriver


def test_three_rotations(stack):
    driver = RotationDriver(stack.secretsmanager, lambda_handler, max_attempts=1)
    users = []
    for _ in range(3):
        token = driver.rotate(stack.app.secret_arn)
        cur = json.loads(stack.secretsmanager.get_secret_value(SecretId=stack.app.secret_arn, VersionStage="AWSCURRENT")["SecretString"])
        assert cur["username"] in (stack.app.username, stack.app.username + "_green")
        flag = stack.ssm.get_parameter(Name=f"{stack.prefix}/blue-green-env")["Parameter"]["Value"]
        users.append((cur["username"], flag, token))
        pymysql.connect(host="127.0.0.1", port=stack.db.port, user=cur["username"], password=cur["password"]).close()
    print(users)
    assert [u[1] for u in users] == ["green", "blue", "green"]
