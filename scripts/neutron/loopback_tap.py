"""Agentless ML2 mechanism driver and trunk driver for local test rigs.

LoopbackTapMechanismDriver binds every port with vnic_type 'normal' on any
host to VIF_TYPE_TAP and marks it ACTIVE, so that port binding succeeds
without an L2 agent (no OVS, no RPC).  VIF_TYPE_TAP tells the consumer (e.g.
Kuryr's 'tap' binding script) to leave the host-side veth unbridged.

LoopbackTapTrunkDriver lets the 'trunk' service plugin load with it (the
plugin refuses to start unless some trunk driver is loaded): agentless, VLAN
segmentation, tap interfaces, bound parents may be trunked.  It does, at once
and on the server, what the OVS agent would ask the server to do: after a
trunk is created or subports are added, it binds the new subports to the
parent port's host with device_owner 'trunk:subport' (when the parent is
bound) and sets the trunk ACTIVE; after subports are removed, it sets the
trunk ACTIVE again and leaves the removed ports as they are (as ML2/OVS
does).  It is created by the mechanism driver, so it exists only where
'loopback_tap' is in [ml2] mechanism_drivers; without the trunk plugin it
never hears an event.
"""
from neutron_lib.api.definitions import portbindings
from neutron_lib.callbacks import events
from neutron_lib.callbacks import registry
from neutron_lib.callbacks import resources
from neutron_lib import constants
from neutron_lib import context as n_context
from neutron_lib.plugins import directory
from neutron_lib.plugins.ml2 import api
from neutron_lib.services.trunk import constants as trunk_consts
from oslo_config import cfg
from oslo_log import log as logging

from neutron.objects import trunk as trunk_obj
from neutron.services.trunk.drivers import base as trunk_base

LOG = logging.getLogger(__name__)

NAME = 'loopback_tap'


class LoopbackTapMechanismDriver(api.MechanismDriver):

    def initialize(self):
        self.trunk_driver = LoopbackTapTrunkDriver.create()

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


@registry.has_registry_receivers
class LoopbackTapTrunkDriver(trunk_base.DriverBase):

    @property
    def is_loaded(self):
        try:
            return NAME in cfg.CONF.ml2.mechanism_drivers
        except cfg.NoSuchOptError:
            return False

    @classmethod
    def create(cls):
        return cls(NAME, (portbindings.VIF_TYPE_TAP,),
                   (trunk_consts.SEGMENTATION_TYPE_VLAN,),
                   agent_type=None, can_trunk_bound_port=True)

    @registry.receives(resources.TRUNK, [events.AFTER_CREATE])
    def _trunk_created(self, resource, event, trigger, payload=None):
        trunk = payload.states[0]
        self._wire(trunk, trunk.sub_ports)

    @registry.receives(resources.SUBPORTS,
                       [events.AFTER_CREATE, events.AFTER_DELETE])
    def _subports_changed(self, resource, event, trigger, payload=None):
        trunk = payload.states[-1]
        added = payload.metadata['subports']
        self._wire(trunk, added if event == events.AFTER_CREATE else [])

    def _wire(self, trunk, subports):
        """Bind subports to the parent's host, then set the trunk status."""
        ctx = n_context.get_admin_context()
        core = directory.get_plugin()
        host = core.get_port(ctx, trunk.port_id).get(portbindings.HOST_ID)
        status = trunk_consts.TRUNK_ACTIVE_STATUS
        for subport in subports if host else []:
            port = core.update_port(ctx, subport.port_id, {'port': {
                portbindings.HOST_ID: host,
                'device_owner': trunk_consts.TRUNK_SUBPORT_OWNER}})
            if (port.get(portbindings.VIF_TYPE) ==
                    portbindings.VIF_TYPE_BINDING_FAILED):
                LOG.error('subport %s of trunk %s: binding failed',
                          subport.port_id, trunk.id)
                status = trunk_consts.TRUNK_DEGRADED_STATUS
        obj = trunk_obj.Trunk.get_object(ctx, id=trunk.id)
        if obj is not None:
            obj.update(status=status)
