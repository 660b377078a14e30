"""Agentless ML2 mechanism driver for local test rigs.

Binds every port with vnic_type 'normal' on any host to VIF_TYPE_TAP and
marks it ACTIVE, so that port binding succeeds without an L2 agent (no OVS,
no RPC).  VIF_TYPE_TAP tells the consumer (e.g. Kuryr's 'tap' binding script)
to leave the host-side veth unbridged.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib import constants
from neutron_lib.plugins.ml2 import api


class LoopbackTapMechanismDriver(api.MechanismDriver):

    def initialize(self):
        pass

    def bind_port(self, context):
        vnic = context.current.get(portbindings.VNIC_TYPE,
                                   portbindings.VNIC_NORMAL)
        if vnic != portbindings.VNIC_NORMAL:
            return
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_TAP,
                                {portbindings.CAP_PORT_FILTER: False},
                                status=constants.PORT_STATUS_ACTIVE)
            return
