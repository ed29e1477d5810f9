"""Nova's FakeDriver, plus the two things the libvirt driver does that a
test of volume and image exports needs (test peer only):

- assisted volume snapshots: Cinder's NFS driver snapshots an attached
  volume by creating a qcow2 overlay and asking Nova to switch the guest
  to it (create), or to merge files (delete).  libvirt does that with
  blockRebase/blockCommit; the fake guest never writes, so qemu-img does
  the same merges on the files, then Cinder is told "done" (progress 90%).
- createImage: libvirt uploads the instance's root disk.  A fake guest's
  disk is its boot image, unchanged: upload those bytes.

The NFS share's local folder comes from $VMI_NFS_DIR.
"""
import json
import os
import subprocess
import tempfile

from nova.image import glance
from nova.virt import fake
from nova.volume import cinder


def _qemu_img(*args):
    subprocess.run(('qemu-img',) + args, cwd=os.environ['VMI_NFS_DIR'],
                   check=True, capture_output=True)


def _active_file(volume_id):
    info = os.path.join(os.environ['VMI_NFS_DIR'],
                        'volume-%s.info' % volume_id)
    with open(info) as f:
        return json.load(f)['active']


class Driver(fake.FakeDriver):
    # As libvirt with OVMF: servers whose image asks for secure boot
    # (os_secure_boot=required) need the host trait.
    capabilities = dict(fake.FakeDriver.capabilities,
                        supports_secure_boot=True)

    def volume_snapshot_create(self, context, instance, volume_id,
                               create_info):
        cinder.API().update_snapshot_status(
            context, create_info['snapshot_id'], 'creating')

    def volume_snapshot_delete(self, context, instance, volume_id,
                               snapshot_id, delete_info):
        active = _active_file(volume_id)
        merge = delete_info.get('file_to_merge')
        target = delete_info.get('merge_target_file')
        if target is None:
            # Pull the backing chain into the active file.
            if merge is None:
                _qemu_img('rebase', '-f', 'qcow2', '-b', '', active)
            else:
                _qemu_img('rebase', '-f', 'qcow2', '-b', merge,
                          '-F', 'qcow2', active)
        else:
            _qemu_img('commit', '-f', 'qcow2', merge)
            _qemu_img('rebase', '-u', '-f', 'qcow2', '-b', target,
                      '-F', 'qcow2', active)
        cinder.API().update_snapshot_status(context, snapshot_id, 'deleting')

    def snapshot(self, context, instance, image_id, update_task_state):
        super().snapshot(context, instance, image_id, update_task_state)
        api = glance.API()
        src = api.get(context, instance.image_ref)
        with tempfile.NamedTemporaryFile() as f:
            api.download(context, instance.image_ref, dest_path=f.name)
            meta = {'disk_format': src['disk_format'],
                    'container_format': 'bare'}
            with open(f.name, 'rb') as data:
                api.update(context, image_id, meta, data)
