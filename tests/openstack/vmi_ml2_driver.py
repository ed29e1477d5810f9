"""An ML2 mechanism driver for the test peer's neutron-server: it binds
every port to the compute host with VIF type "ovs" at once (there are no
agents).  Ports stay DOWN, but they exist with their MACs and networks,
so Nova's server addresses carry them as a real cloud's do.

peer.sh puts this class in place of ML2's "test" mechanism driver (the
entry point neutron ships for its unit tests) before the server loads its
drivers: a driver outside neutron's package needs an entry point, which
would mean installing a package."""
from neutron_lib.api.definitions import portbindings
from neutron_lib.plugins.ml2 import api


class Driver(api.MechanismDriver):
    def initialize(self):
        pass

    @property
    def connectivity(self):
        return portbindings.CONNECTIVITY_L2

    def bind_port(self, context):
        for segment in context.segments_to_bind:
            context.set_binding(segment[api.ID], portbindings.VIF_TYPE_OVS,
                                {portbindings.CAP_PORT_FILTER: False})
            return
