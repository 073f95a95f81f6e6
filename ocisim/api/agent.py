"""Instance agent API (20180530): Run Command commands and their executions."""

from __future__ import annotations

from ..routing import Route, page, sort

V = "/20180530"


def create_instance_agent_command(sim, req):
    return sim.agent.create_command(req.region, req.json())


def get_instance_agent_command(sim, req):
    return sim.agent.get_command(req.region, req.params["instanceAgentCommandId"])


def list_instance_agent_commands(sim, req):
    return page(sort(sim.agent.list_commands(req.region, req.q("compartmentId")), req), req)


def cancel_instance_agent_command(sim, req):
    sim.agent.cancel_command(req.region, req.params["instanceAgentCommandId"])


def get_instance_agent_command_execution(sim, req):
    return sim.agent.get_execution(req.region, req.params["instanceAgentCommandId"], req.q("instanceId"))


def list_instance_agent_command_executions(sim, req):
    items = sim.agent.list_executions(req.region, req.q("compartmentId"), req.q("instanceId"),
                                      req.q("lifecycleState"))
    return page(sort(items, req), req)


ROUTES = [
    Route("POST", f"{V}/instanceAgentCommands", "CreateInstanceAgentCommand", create_instance_agent_command),
    Route("GET", f"{V}/instanceAgentCommands", "ListInstanceAgentCommands", list_instance_agent_commands),
    Route("GET", f"{V}/instanceAgentCommands/{{instanceAgentCommandId}}", "GetInstanceAgentCommand",
          get_instance_agent_command),
    Route("DELETE", f"{V}/instanceAgentCommands/{{instanceAgentCommandId}}", "CancelInstanceAgentCommand",
          cancel_instance_agent_command),
    Route("GET", f"{V}/instanceAgentCommands/{{instanceAgentCommandId}}/status",
          "GetInstanceAgentCommandExecution", get_instance_agent_command_execution),
    Route("GET", f"{V}/instanceAgentCommandExecutions", "ListInstanceAgentCommandExecutions",
          list_instance_agent_command_executions),
]
