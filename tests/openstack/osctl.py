#!/usr/bin/env python3
"""The test peer's own client of the OpenStack APIs (python3-requests),
independent of vmimport's C code: it sets the cloud up and makes fixtures.

    osctl.py bootstrap        projects, users, roles, catalog (once)
    osctl.py wait-ready       compute host up, Cinder pool reported
    osctl.py fixtures DIR     the test's servers and volumes (see below)
    osctl.py leftovers        our temporary snapshots/volumes/images, if any
    osctl.py delete-fixtures  remove what 'fixtures' made
    osctl.py servers          the project's servers (all pages), JSON
    osctl.py ports SERVER     its Neutron ports: [[network, MAC], ...]
    osctl.py pad              2 volumes and 2 snapshots, newest of all
    osctl.py unstick          reset and delete our objects stuck in deleting
    osctl.py paged            exit 0 if lists come in pages of 2
    osctl.py revoke-demo      revoke the demo user's tokens (Keystone)

STATE comes from $VMI_OS_STATE (the folder peer.sh keeps its state in).
"""
import json
import os
import subprocess
import sys
import time

import requests

ST = os.environ['VMI_OS_STATE']
ENV = {}
with open(os.path.join(ST, 'env')) as f:
    for line in f:
        k, _, v = line.strip().partition('=')
        ENV[k] = v
CA = os.path.join(ST, 'tls', 'ca.pem')
KS = 'https://127.0.0.1:%s/v3' % ENV['KS_PORT']
PROJECT = 'vmi'
TMP_PREFIX = 'vmimport-tmp-'


class Cloud:
    def __init__(self, user, password, project):
        body = {'auth': {
            'identity': {'methods': ['password'], 'password': {'user': {
                'name': user, 'domain': {'name': 'Default'},
                'password': password}}},
            'scope': {'project': {'name': project,
                                  'domain': {'name': 'Default'}}}}}
        r = requests.post(KS + '/auth/tokens', json=body, verify=CA)
        r.raise_for_status()
        self.token = r.headers['X-Subject-Token']
        self.project_id = r.json()['token']['project']['id']
        self.catalog = {}
        for s in r.json()['token'].get('catalog', []):
            for e in s['endpoints']:
                if (e['interface'] == 'public'
                        and e.get('region_id', 'RegionOne') == 'RegionOne'):
                    self.catalog[s['type']] = e['url']

    def url(self, service, path):
        if service == 'identity':
            return KS + path
        base = self.catalog[service].rstrip('/')
        if service == 'image':
            base += '/v2'
        return base + path

    def call(self, method, service, path, body=None, ok=(200, 201, 202, 204),
             headers=None, data=None):
        h = {'X-Auth-Token': self.token}
        if service == 'compute':
            h['OpenStack-API-Version'] = 'compute 2.79'
        if service == 'volumev3':
            h['OpenStack-API-Version'] = 'volume 3.27'
        if headers:
            h.update(headers)
        r = requests.request(method, self.url(service, path), json=body,
                             data=data, headers=h, verify=CA)
        if r.status_code not in ok:
            raise RuntimeError('%s %s %s: %s %s' % (service, method, path,
                                                    r.status_code, r.text))
        if r.status_code == 204 or not r.content:
            return None
        try:
            return r.json()
        except ValueError:
            return r.text

    def wait(self, what, fn, want, timeout=180, bad=('error',)):
        end = time.time() + timeout
        while True:
            st = fn()
            if st == want:
                return
            if st in bad:
                raise RuntimeError('%s: status %s' % (what, st))
            if time.time() > end:
                raise RuntimeError('%s: still %s after %d s' % (what, st,
                                                               timeout))
            time.sleep(0.5)


def listall(c, service, path, key):
    """Every item of a list call, page after page: the peer gives pages of
    2 (Nova's max_limit, Cinder's osapi_max_limit, Glance's api_limit_max).
    Nova and Cinder say there is more with KEY_links "next", Glance with
    "next"; the next page starts after the last item (marker)."""
    out, marker = [], None
    while True:
        p = path
        if marker:
            p += ('&' if '?' in p else '?') + 'marker=' + marker
        page = c.call('GET', service, p)
        items = page[key]
        out += items
        more = page.get('next') or any(
            link.get('rel') == 'next' for link in page.get(key + '_links', []))
        if not items or not more:
            return out
        marker = items[-1]['id']


def admin():
    return Cloud('admin', ENV['ADMIN_PW'], 'admin')


def demo():
    return Cloud('demo', ENV['DEMO_PW'], PROJECT)


def find(c, path, key, name):
    for x in c.call('GET', 'identity', path + '?name=' + name)[key]:
        return x['id']
    return None


def ensure(c, path, key, body):
    i = find(c, path, key, body['name'])
    if i:
        return i
    return c.call('POST', 'identity', path, {key[:-1]: body})[key[:-1]]['id']


def bootstrap():
    c = admin()
    dom = find(c, '/domains', 'domains', 'Default')
    service = ensure(c, '/projects', 'projects',
                     {'name': 'service', 'domain_id': dom})
    vmi = ensure(c, '/projects', 'projects', {'name': PROJECT, 'domain_id': dom})
    ensure(c, '/projects', 'projects', {'name': 'other', 'domain_id': dom})
    roles = {n: ensure(c, '/roles', 'roles', {'name': n})
             for n in ('admin', 'member', 'reader', 'service')}
    for u in ('glance', 'cinder', 'nova', 'placement'):
        uid = ensure(c, '/users', 'users', {'name': u, 'domain_id': dom,
                                            'password': ENV['SERVICE_PW']})
        for role in ('admin', 'service'):
            c.call('PUT', 'identity', '/projects/%s/users/%s/roles/%s'
                   % (service, uid, roles[role]))
    uid = ensure(c, '/users', 'users', {'name': 'demo', 'domain_id': dom,
                                        'password': ENV['DEMO_PW']})
    for role in ('member', 'reader'):
        c.call('PUT', 'identity', '/projects/%s/users/%s/roles/%s'
               % (vmi, uid, roles[role]))
    endpoints = {
        ('glance', 'image'): 'http://127.0.0.1:%s' % ENV['GL_PORT'],
        ('cinderv3', 'volumev3'):
            'http://127.0.0.1:%s/v3/%%(project_id)s' % ENV['CI_PORT'],
        ('nova', 'compute'): 'http://127.0.0.1:%s/v2.1' % ENV['NO_PORT'],
        ('placement', 'placement'): 'http://127.0.0.1:%s' % ENV['PL_PORT'],
        # neutron-server (ML2, no agents: vmi_ml2_driver.py binds the ports).
        ('neutron', 'network'): 'http://127.0.0.1:%s' % ENV['NE_PORT'],
    }
    for (name, typ), url in endpoints.items():
        sid = ensure(c, '/services', 'services', {'name': name, 'type': typ})
        for iface in ('public', 'internal', 'admin'):
            c.call('POST', 'identity', '/endpoints', {'endpoint': {
                'service_id': sid, 'interface': iface, 'url': url,
                'region_id': 'RegionOne'}})


def fault_region(port=None):
    """RegionFault: RegionOne's public endpoints, but compute through
    faultproxy.py on PORT; without PORT, its endpoints are removed (no
    service of the peer uses that region: they are set to RegionOne)."""
    c = admin()
    for e in c.call('GET', 'identity', '/endpoints?region_id=RegionFault')['endpoints']:
        c.call('DELETE', 'identity', '/endpoints/' + e['id'])
    if port is None:
        return
    c.call('POST', 'identity', '/regions', {'region': {'id': 'RegionFault'}},
           ok=(201, 409))
    for e in c.call('GET', 'identity', '/endpoints?interface=public&region_id=RegionOne')['endpoints']:
        svc = c.call('GET', 'identity', '/services/' + e['service_id'])['service']
        if svc['type'] not in ('compute', 'volumev3', 'image', 'network'):
            continue
        url = e['url']
        if svc['type'] == 'compute':
            url = 'http://127.0.0.1:%s/v2.1' % port
        c.call('POST', 'identity', '/endpoints', {'endpoint': {
            'service_id': e['service_id'], 'interface': 'public', 'url': url,
            'region_id': 'RegionFault'}})


def wait_ready():
    end = time.time() + 240
    while True:
        try:
            c = admin()
            svcs = c.call('GET', 'compute', '/os-services')['services']
            up = any(s['binary'] == 'nova-compute' and s['state'] == 'up'
                     for s in svcs)
            pools = c.call('GET', 'volumev3',
                           '/scheduler-stats/get_pools')['pools']
            rps = c.call('GET', 'placement', '/resource_providers'
                         )['resource_providers']
            if up and pools and rps:
                return
        except (requests.RequestException, RuntimeError, KeyError) as e:
            print('wait-ready:', e, file=sys.stderr)
        if time.time() > end:
            raise RuntimeError('services not ready after 240 s')
        time.sleep(1)


def volume_file(vid):
    return os.path.join(ENV['OS_NFS_MNT'], 'volume-' + vid)


def create_volume(c, name, gib, fill=None, image_meta=None, boot=True):
    for attempt in range(3):
        v = c.call('POST', 'volumev3', '/volumes',
                   {'volume': {'size': gib, 'name': name}})['volume']
        vid = v['id']
        try:
            c.wait('volume ' + name, lambda: c.call(
                'GET', 'volumev3', '/volumes/' + vid)['volume']['status'],
                'available', timeout=90)
            break
        except RuntimeError as e:
            # Seen with this peer's former sqlite databases: cinder-volume's
            # status update failed with "database is locked", leaving the
            # volume "creating" for good.  An admin resets and deletes it; the fixture is made
            # again.
            if attempt == 2:
                raise
            print('peer: %s; reset by admin, deleted, made again' % e,
                  file=sys.stderr)
            a = admin()
            a.call('POST', 'volumev3', '/volumes/%s/action' % vid,
                   {'os-reset_status': {'status': 'error'}})
            a.call('DELETE', 'volumev3', '/volumes/' + vid, ok=(202, 400, 404))
    if fill:
        # The NFS driver's volume is a sparse raw file on the share: write the
        # test's image into it, as a guest writing its disk would.
        subprocess.run(['qemu-img', 'convert', '-n', '-O', 'raw', fill,
                        volume_file(vid)], check=True)
    if boot:
        c.call('POST', 'volumev3', '/volumes/%s/action' % vid,
               {'os-set_bootable': {'bootable': True}})
    if image_meta:
        c.call('POST', 'volumev3', '/volumes/%s/action' % vid,
               {'os-set_image_metadata': {'metadata': image_meta}})
    return vid


def upload_image(c, name, path, fmt, props):
    body = {'name': name, 'disk_format': fmt, 'container_format': 'bare',
            'visibility': 'private'}
    body.update(props)
    img = c.call('POST', 'image', '/images', body)
    with open(path, 'rb') as f:
        c.call('PUT', 'image', '/images/%s/file' % img['id'], data=f,
               headers={'Content-Type': 'application/octet-stream'})
    return img['id']


def flavor(a, name, vcpus, ram, disk, ephemeral=0, swap=0):
    for f in listall(a, 'compute', '/flavors/detail?is_public=None', 'flavors'):
        if f['name'] == name:
            return f['id']
    return a.call('POST', 'compute', '/flavors', {'flavor': {
        'name': name, 'vcpus': vcpus, 'ram': ram, 'disk': disk,
        'OS-FLV-EXT-DATA:ephemeral': ephemeral, 'swap': swap}})['flavor']['id']


def network(c, name, cidr):
    """The demo project's network NAME with a subnet CIDR (kept across runs,
    as the flavors are)."""
    for n in c.call('GET', 'network', '/v2.0/networks?name=' + name)['networks']:
        return n['id']
    n = c.call('POST', 'network', '/v2.0/networks',
               {'network': {'name': name}})['network']['id']
    c.call('POST', 'network', '/v2.0/subnets', {'subnet': {
        'network_id': n, 'cidr': cidr, 'ip_version': 4, 'name': name}})
    return n


def create_server(c, name, flavor_id, image=None, bdm=None, nets=None):
    """One at a time, until ACTIVE.  A server that went to ERROR is made
    again (with the sqlite databases this peer had before MariaDB, two
    write transactions that crossed failed at once: "database is locked")."""
    s = {'name': name, 'flavorRef': flavor_id,
         'networks': [{'uuid': n} for n in nets] if nets else 'none'}
    if image:
        s['imageRef'] = image
    if bdm:
        s['block_device_mapping_v2'] = bdm
    for attempt in range(3):
        sid = c.call('POST', 'compute', '/servers', {'server': s})['server']['id']
        try:
            wait_server(c, sid)
            return sid
        except RuntimeError as e:
            print('server %s: %s; again' % (name, e), file=sys.stderr)
            c.call('DELETE', 'compute', '/servers/' + sid, ok=(204, 404))
            end = time.time() + 60
            while time.time() < end and c.call(
                    'GET', 'compute', '/servers/' + sid, ok=(200, 404)
                    ).get('server', {}).get('status') not in (None, 'DELETED'):
                time.sleep(0.5)
            for v in bdm or []:
                c.wait('volume ' + v['uuid'], lambda: c.call(
                    'GET', 'volumev3', '/volumes/' + v['uuid'])['volume']['status'],
                    'available', timeout=60)
    raise RuntimeError('server %s: not ACTIVE after 3 tries' % name)


def wait_server(c, sid, want='ACTIVE'):
    c.wait('server ' + sid,
           lambda: c.call('GET', 'compute', '/servers/' + sid)['server']['status'],
           want, bad=('ERROR',))


def fixtures(d):
    """DIR holds boot.qcow2 (ext4 content), data.qcow2, image.qcow2 and
    big.qcow2 (made by the test).  Writes DIR/ids.env."""
    a, c = admin(), demo()
    ids = {}
    # Room for the fixtures and the exports' temporary volumes.
    a.call('PUT', 'volumev3', '/os-quota-sets/' + c.project_id,
           {'quota_set': {'volumes': 100, 'snapshots': 100,
                          'gigabytes': 1000}})
    ids['FLAVOR_VOL'] = flavor(a, 'vmi.vol', 2, 1536, 0)
    # With a 1 GiB ephemeral disk and 512 MiB of swap, which no API exports.
    ids['FLAVOR_IMG'] = flavor(a, 'vmi.img-eph', 3, 2048, 1, 1, 512)
    ids['FLAVOR_BIG'] = flavor(a, 'vmi.big', 1, 512, 0)
    # Flavors are public: the demo project sees them.
    boot = create_volume(c, 'fx-boot', 1, os.path.join(d, 'boot.qcow2'),
                         {'hw_firmware_type': 'uefi', 'os_secure_boot': 'required',
                          'hw_tpm_model': 'tpm-crb', 'hw_disk_bus': 'scsi',
                          'hw_vif_model': 'e1000'})
    data = create_volume(c, 'fx-data', 1, os.path.join(d, 'data.qcow2'),
                         boot=False)
    big = create_volume(c, 'fx-big', 4, os.path.join(d, 'big.qcow2'))
    dup1 = create_volume(c, 'fx-dup1', 1)
    dup2 = create_volume(c, 'fx-dup2', 1)
    image = upload_image(c, 'fx-image', os.path.join(d, 'image.qcow2'), 'qcow2',
                         {'hw_firmware_type': 'bios', 'hw_disk_bus': 'sata'})
    c.wait('image fx-image',
           lambda: c.call('GET', 'image', '/images/' + image)['status'], 'active')
    ids['VOL_BOOT'], ids['VOL_DATA'], ids['VOL_BIG'] = boot, data, big
    ids['IMAGE'] = image
    bdm = lambda v, i: {'uuid': v, 'source_type': 'volume',
                        'destination_type': 'volume', 'boot_index': i,
                        'delete_on_termination': False}
    net1 = network(c, 'fx-net1', '10.9.1.0/24')
    net2 = network(c, 'fx-net2', '10.9.2.0/24')
    ids['SRV_VOL'] = create_server(c, 'vm-vol', ids['FLAVOR_VOL'],
                                   bdm=[bdm(boot, 0), bdm(data, 1)],
                                   nets=[net1, net2])
    ids['SRV_IMG'] = create_server(c, 'vm-img', ids['FLAVOR_IMG'], image=image,
                                   nets=[net2])
    ids['SRV_BIG'] = create_server(c, 'vm-big', ids['FLAVOR_BIG'],
                                   bdm=[bdm(big, 0)])
    ids['SRV_DUP1'] = create_server(c, 'vm-dup', ids['FLAVOR_BIG'],
                                    bdm=[bdm(dup1, 0)])
    ids['SRV_DUP2'] = create_server(c, 'vm-dup', ids['FLAVOR_BIG'],
                                    bdm=[bdm(dup2, 0)])
    ids['PROJECT_ID'] = c.project_id
    with open(os.path.join(d, 'ids.env'), 'w') as f:
        for k, v in ids.items():
            f.write('%s=%s\n' % (k, v))


def delete_fixtures():
    """Servers, then (once detached) snapshots and volumes, then images;
    waits until they are gone."""
    c = demo()
    end = time.time() + 180
    while time.time() < end:
        servers = listall(c, 'compute', '/servers', 'servers')
        if not servers:
            break
        for srv in servers:
            try:
                c.call('DELETE', 'compute', '/servers/' + srv['id'],
                       ok=(204, 404, 409))
            except RuntimeError as e:   # a busy service: try again
                print(e, file=sys.stderr)
        time.sleep(1)
    while time.time() < end:
        snaps = listall(c, 'volumev3', '/snapshots/detail', 'snapshots')
        vols = listall(c, 'volumev3', '/volumes/detail', 'volumes')
        if not snaps and not vols:
            break
        for x in snaps:
            if x['status'] in ('available', 'error'):
                c.call('DELETE', 'volumev3', '/snapshots/' + x['id'],
                       ok=(202, 400, 404))
        for v in vols:
            if not snaps and v['status'] in ('available', 'error'):
                c.call('DELETE', 'volumev3', '/volumes/' + v['id'],
                       ok=(202, 400, 404))
        time.sleep(0.5)
    for i in listall(c, 'image', '/images?owner=' + c.project_id, 'images'):
        c.call('DELETE', 'image', '/images/' + i['id'], ok=(204, 404))


def leftovers():
    c = demo()
    out = []
    for s in listall(c, 'volumev3', '/snapshots/detail', 'snapshots'):
        if (s.get('name') or '').startswith(TMP_PREFIX):
            out.append('snapshot %s %s %s' % (s['id'], s['name'], s['status']))
    for v in listall(c, 'volumev3', '/volumes/detail', 'volumes'):
        if (v.get('name') or '').startswith(TMP_PREFIX):
            out.append('volume %s %s %s' % (v['id'], v['name'], v['status']))
    for i in listall(c, 'image', '/images?owner=' + c.project_id, 'images'):
        if (i.get('name') or '').startswith(TMP_PREFIX):
            out.append('image %s %s %s' % (i['id'], i['name'], i['status']))
    print('\n'.join(out))


def count(kind):
    """How many of our temporary objects of KIND exist (any status)."""
    c = demo()
    if kind == 'images':
        xs = listall(c, 'image', '/images?owner=' + c.project_id, 'images')
    elif kind == 'volumes':
        xs = listall(c, 'volumev3', '/volumes/detail', 'volumes')
    else:
        xs = listall(c, 'volumev3', '/snapshots/detail', 'snapshots')
    print(sum(1 for x in xs if (x.get('name') or '').startswith(TMP_PREFIX)))


def servers():
    """Every server of the project (all pages), as JSON: id, name and how
    many disks it has (attached volumes, plus the root disk of a server
    booted from an image)."""
    c = demo()
    out = [{'id': x['id'], 'name': x['name'],
            'disks': len(x['os-extended-volumes:volumes_attached'])
            + (1 if x.get('image') else 0)}
           for x in listall(c, 'compute', '/servers/detail', 'servers')]
    print(json.dumps(out))


def ports(sid):
    """The Neutron ports of server SID, as JSON [[network name, MAC], ...],
    sorted: what its NICs must be."""
    c = demo()
    nets = {n['id']: n['name'] for n in
            listall(c, 'network', '/v2.0/networks', 'networks')}
    print(json.dumps(sorted([nets[p['network_id']], p['mac_address']] for p in
                            c.call('GET', 'network', '/v2.0/ports?device_id='
                                   + sid)['ports'])))


def pad():
    """Two volumes and two snapshots newer than anything else: the first
    page of each list (newest first, 2 a page) holds only these, so what
    vmimport cleanup must find is on a later page."""
    c = demo()
    vols = [create_volume(c, 'fx-pad%d' % i, 1, boot=False) for i in (1, 2)]
    for i in (1, 2):
        sid = c.call('POST', 'volumev3', '/snapshots', {'snapshot': {
            'volume_id': vols[0], 'name': 'fx-pad%d' % i}})['snapshot']['id']
        c.wait('snapshot fx-pad%d' % i, lambda: c.call(
            'GET', 'volumev3', '/snapshots/' + sid)['snapshot']['status'],
            'available')


def unstick():
    """Our temporary snapshots and volumes that Cinder left in "deleting" or
    "uploading" (seen with the sqlite databases this peer had before
    MariaDB: cinder-volume's last status update failed with "database is
    locked", and the object stayed so) are reset to "error" and deleted
    again, as an admin of a real cloud would.  Prints each one, for the
    test log."""
    a = admin()
    for kind in ('snapshots', 'volumes'):
        for x in listall(a, 'volumev3', '/%s/detail?all_tenants=1' % kind,
                         kind):
            if not (x.get('name') or '').startswith(TMP_PREFIX) or \
                    x['status'] not in ('deleting', 'error_deleting',
                                        'uploading'):
                continue
            a.call('POST', 'volumev3', '/%s/%s/action' % (kind, x['id']),
                   {'os-reset_status': {'status': 'error'}})
            a.call('DELETE', 'volumev3', '/%s/%s' % (kind, x['id']),
                   ok=(202, 400, 404))
            print('     peer: Cinder left %s %s (%s) in "%s"; reset by admin '
                  'and deleted again' % (kind[:-1], x['id'], x['name'],
                                         x['status']))


def paged():
    """Exit 0 if the first page of servers and of volumes holds 2 items and
    says there is more (the peer's max_limit is in effect)."""
    c = demo()
    ok = True
    for service, path, key in (('compute', '/servers/detail', 'servers'),
                               ('volumev3', '/volumes/detail', 'volumes')):
        page = c.call('GET', service, path)
        more = any(link.get('rel') == 'next'
                   for link in page.get(key + '_links', []))
        print('%s: first page %d, next link: %s' % (key, len(page[key]), more))
        ok = ok and len(page[key]) == 2 and more
    sys.exit(0 if ok else 1)


def revoke_demo():
    """Revoke every token of the demo user: set its password (to the same
    value) as admin, which makes Keystone record a revocation event."""
    a = admin()
    uid = find(a, '/users', 'users', 'demo')
    a.call('PATCH', 'identity', '/users/' + uid,
           {'user': {'password': ENV['DEMO_PW']}})


def main():
    cmd = sys.argv[1]
    if cmd == 'bootstrap':
        bootstrap()
    elif cmd == 'wait-ready':
        wait_ready()
    elif cmd == 'fixtures':
        fixtures(sys.argv[2])
    elif cmd == 'delete-fixtures':
        delete_fixtures()
    elif cmd == 'leftovers':
        leftovers()
    elif cmd == 'servers':
        servers()
    elif cmd == 'ports':
        ports(sys.argv[2])
    elif cmd == 'pad':
        pad()
    elif cmd == 'unstick':
        unstick()
    elif cmd == 'paged':
        paged()
    elif cmd == 'revoke-demo':
        revoke_demo()
    elif cmd == 'fault-region':
        fault_region(sys.argv[2] if len(sys.argv) > 2 else None)
    elif cmd == 'count':
        count(sys.argv[2])
    else:
        sys.exit('unknown command ' + cmd)


if __name__ == '__main__':
    main()
