/* Unit tests of the OVA parsers, called from memory exactly as the fuzz
 * targets call them: vmi_ovf_parse, vmi_manifest_parse,
 * vmi_source_yaml_parse, and the tar layer over vmi_memory_open. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vmimport/error.h"
#include "vmimport/formats.h"
#include "vmimport/ova.h"
#include "vmimport/transport.h"

#include "check.h"

static struct vmi_vm *
ovf (const char *xml)
{
  return vmi_ovf_parse (xml, strlen (xml), "test.ovf");
}

#define ENV_OPEN                                                        \
  "<Envelope xmlns='http://schemas.dmtf.org/ovf/envelope/1' "           \
  "xmlns:ovf='http://schemas.dmtf.org/ovf/envelope/1' "                 \
  "xmlns:rasd='urn:rasd' xmlns:vmw='http://www.vmware.com/schema/ovf'>"

static void
test_ovf (void)
{
  struct vmi_vm *vm;

  /* The disk Item comes before its controller; units of every kind. */
  vm = ovf (ENV_OPEN
    "<References><File ovf:id='f1' ovf:href='a.vmdk'/>"
    "<File ovf:id='f2' ovf:href='b.vmdk'/><File ovf:id='f3' ovf:href='c.vmdk'/></References>"
    "<DiskSection><Disk ovf:diskId='d1' ovf:fileRef='f1' ovf:capacity='2' "
    "ovf:capacityAllocationUnits='byte * 2^30' ovf:format='http://www.vmware.com/interfaces/specifications/vmdk.html#streamOptimized'/>"
    "<Disk ovf:diskId='d2' ovf:fileRef='f2' ovf:capacity='1048576' ovf:capacityAllocationUnits='byte * 1024'/>"
    "<Disk ovf:diskId='d3' ovf:fileRef='f3' ovf:capacity='12345'/></DiskSection>"
    "<VirtualSystemCollection><VirtualSystem ovf:id='vs-id'>"
    "<OperatingSystemSection ovf:id='1'><Description>Windows</Description></OperatingSystemSection>"
    "<VirtualHardwareSection>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource><rasd:Parent>7</rasd:Parent><rasd:InstanceID>8</rasd:InstanceID></Item>"
    "<Item><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>VirtualSCSI</rasd:ResourceSubType><rasd:InstanceID>7</rasd:InstanceID></Item>"
    "<Item><rasd:ResourceType>20</rasd:ResourceType><rasd:ResourceSubType>AHCI</rasd:ResourceSubType><rasd:InstanceID>9</rasd:InstanceID></Item>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>/disk/d2</rasd:HostResource><rasd:Parent>9</rasd:Parent></Item>"
    "<Item><rasd:ResourceType>3</rasd:ResourceType><rasd:VirtualQuantity>6</rasd:VirtualQuantity></Item>"
    "<Item><rasd:ResourceType>4</rasd:ResourceType><rasd:AllocationUnits>GigaBytes</rasd:AllocationUnits><rasd:VirtualQuantity>3</rasd:VirtualQuantity></Item>"
    "<Item><rasd:ResourceType>10</rasd:ResourceType><rasd:Connection>lan</rasd:Connection></Item>"
    "<vmw:ExtraConfig vmw:key='firmware' vmw:value='efi'/>"
    "</VirtualHardwareSection></VirtualSystem></VirtualSystemCollection></Envelope>");
  CHECK ("ovf_parses_vmware_style", vm != NULL);
  if (vm) {
    CHECK ("ovf_name_falls_back_to_id", !strcmp (vm->name, "vs-id"));
    CHECK ("ovf_guest_os_from_description", vm->guest_os && !strcmp (vm->guest_os, "Windows"));
    CHECK ("ovf_cpus", vm->cpus == 6 && vm->cores_per_socket == -1);
    CHECK ("ovf_memory_gigabytes", vm->memory_mib == 3072);
    CHECK ("ovf_firmware_from_extraconfig", vm->firmware && !strcmp (vm->firmware, "efi"));
    CHECK ("ovf_secure_boot_unknown_when_unsaid", vm->secure_boot == -1);
    CHECK ("ovf_three_disks", vm->ndisks == 3);
    CHECK ("ovf_capacity_byte_2_30", vm->ndisks == 3 && vm->disks[0].capacity == 2LL << 30);
    CHECK ("ovf_capacity_byte_1024", vm->ndisks == 3 && vm->disks[1].capacity == 1LL << 30);
    CHECK ("ovf_capacity_default_bytes", vm->ndisks == 3 && vm->disks[2].capacity == 12345);
    CHECK ("ovf_bus_scsi_subtype_controller_after_disk",
           vm->ndisks == 3 && vm->disks[0].bus && !strcmp (vm->disks[0].bus, "scsi"));
    CHECK ("ovf_bus_ahci_is_sata", vm->ndisks == 3 && vm->disks[1].bus && !strcmp (vm->disks[1].bus, "sata"));
    CHECK ("ovf_bus_unknown_is_null", vm->ndisks == 3 && vm->disks[2].bus == NULL);
    CHECK ("ovf_format_vmdk", vm->ndisks == 3 && !strcmp (vm->disks[0].source_format, "vmdk"));
    CHECK ("ovf_href", vm->ndisks == 3 && !strcmp (vm->disks[2].source_name, "c.vmdk"));
    CHECK ("ovf_nic_without_model_or_mac", vm->nnics == 1 && !strcmp (vm->nics[0].network, "lan")
           && vm->nics[0].model == NULL && vm->nics[0].mac == NULL);
    vmi_vm_free (vm);
  }

  CHECK ("ovf_doctype_refused", ovf ("<!DOCTYPE x [<!ENTITY a 'b'>]><Envelope/>") == NULL
         && strstr (vmi_error_get (), "DOCTYPE"));
  CHECK ("ovf_wrong_root_refused", ovf ("<html/>") == NULL && strstr (vmi_error_get (), "Envelope"));
  CHECK ("ovf_empty_refused", vmi_ovf_parse ("", 0, "e.ovf") == NULL);
  CHECK ("ovf_not_xml_refused", ovf ("\x01\x02garbage<<<") == NULL
         && strstr (vmi_error_get (), "malformed OVF XML"));
  CHECK ("ovf_no_virtual_system_refused", ovf (ENV_OPEN "</Envelope>") == NULL
         && strstr (vmi_error_get (), "VirtualSystem"));
  CHECK ("ovf_unknown_file_ref_named",
         ovf (ENV_OPEN "<DiskSection><Disk ovf:diskId='d1' ovf:fileRef='nope' ovf:capacity='1'/></DiskSection>"
              "<VirtualSystem ovf:id='x'/></Envelope>") == NULL
         && strstr (vmi_error_get (), "nope"));
  vm = ovf (ENV_OPEN "<DiskSection><Disk ovf:diskId='d1' ovf:capacity='${size}'/></DiskSection>"
            "<VirtualSystem ovf:id='x'/></Envelope>");
  CHECK ("ovf_empty_disk_without_file_is_an_error", vm == NULL && strstr (vmi_error_get (), "fileRef"));
  vm = ovf (ENV_OPEN "<References><File ovf:id='f' ovf:href='a'/></References>"
            "<DiskSection><Disk ovf:diskId='d' ovf:fileRef='f' ovf:capacity='99999999999999999999' "
            "ovf:capacityAllocationUnits='byte * 2^62'/></DiskSection><VirtualSystem ovf:id='x'>"
            "<VirtualHardwareSection><Item><rasd:ResourceType>4</rasd:ResourceType>"
            "<rasd:VirtualQuantity>7</rasd:VirtualQuantity><rasd:AllocationUnits>furlongs</rasd:AllocationUnits></Item>"
            "</VirtualHardwareSection></VirtualSystem></Envelope>");
  CHECK ("ovf_overflowing_or_unknown_units_are_unknown",
         vm && vm->disks[0].capacity == -1 && vm->memory_mib == -1);
  vmi_vm_free (vm);
}

static void
test_manifest (void)
{
  const char *mf =
    "SHA1(a.ovf)= 0123456789abcdef0123456789ABCDEF01234567\r\n"
    "\r\n"
    "SHA256 (dir/b c.vmdk) = 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff\n"
    "SHA256(x(1).img)=00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff";
  struct vmi_manifest_entry *e;
  size_t n;

  CHECK ("manifest_parses", vmi_manifest_parse (mf, strlen (mf), "t.mf", &e, &n) == 0 && n == 3);
  if (n == 3) {
    CHECK ("manifest_sha1", !strcmp (e[0].algo, "SHA1") && e[0].digest_len == 20 && e[0].digest[19] == 0x67);
    CHECK ("manifest_spaces_and_names", !strcmp (e[1].file, "dir/b c.vmdk") && e[1].digest_len == 32);
    CHECK ("manifest_parentheses_in_name", !strcmp (e[2].file, "x(1).img"));
    vmi_manifest_free (e, n);
  }
  CHECK ("manifest_empty_is_fine", vmi_manifest_parse ("", 0, "t.mf", &e, &n) == 0 && n == 0);
  vmi_manifest_free (e, n);
  CHECK ("manifest_unknown_algo_line_named",
         vmi_manifest_parse ("\nMD5(a)= 00\n", 12, "t.mf", &e, &n) == -1
         && strstr (vmi_error_get (), "line 2"));
  CHECK ("manifest_bad_hex",
         vmi_manifest_parse ("SHA1(a)= zz23456789abcdef0123456789abcdef01234567", 47, "t.mf", &e, &n) == -1);
  CHECK ("manifest_garbage", vmi_manifest_parse ("hello world", 11, "t.mf", &e, &n) == -1);
}

static void
test_yaml (void)
{
  const char *y =
    "apiVersion: migration.harvesterhci.io/v1beta1\n"
    "kind: OvaSource\n"
    "metadata: {name: example, namespace: default}\n"
    "spec:\n"
    "  url: \"https://h/x.ova\"\n"
    "  httpTimeoutSeconds: 0\n"
    "  credentials: {name: creds, namespace: default}\n"
    "---\n"
    "kind: Secret\n"
    "metadata: {name: other}\n"
    "stringData: {username: wrong}\n"
    "---\n"
    "kind: Secret\n"
    "metadata: {name: creds}\n"
    "data: {username: dXNlcg==, password: cGFzcw==}\n"
    "stringData: {\"ca.crt\": PEM}\n";
  struct vmi_source_spec s;

  CHECK ("yaml_parses", vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s) == 0);
  if (s.kind) {
    CHECK ("yaml_kind_url", !strcmp (s.kind, "OvaSource") && !strcmp (s.url, "https://h/x.ova"));
    CHECK ("yaml_timeout_zero_means_none", s.opts.timeout_seconds == 0);
    CHECK ("yaml_secret_picked_by_name_base64",
           s.opts.username && !strcmp (s.opts.username, "user")
           && s.opts.password && !strcmp (s.opts.password, "pass"));
    CHECK ("yaml_ca_crt", s.opts.ca_cert_pem && !strcmp (s.opts.ca_cert_pem, "PEM"));
    vmi_source_spec_clear (&s);
  }
  y = "kind: OvaSource\nspec: {url: u, credentials: {name: missing}}\n";
  CHECK ("yaml_missing_secret_named", vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s) == -1
         && strstr (vmi_error_get (), "missing"));
  y = "kind: OvaSource\nspec: [unterminated\n";
  CHECK ("yaml_malformed_line_named", vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s) == -1
         && strstr (vmi_error_get (), "line"));
  y = "a: &a [x, *a]\nkind: OvaSource\nspec: {url: u}\n";
  vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s);
  vmi_source_spec_clear (&s);
  CHECK ("yaml_recursive_alias_no_crash", 1);
  y = "kind: Pod\n";
  CHECK ("yaml_no_source_object", vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s) == -1);
  y = "kind: VmwareSource\nspec: {endpoint: 'https://vc/sdk', dc: DC1}\n";
  CHECK ("yaml_vmware_source", vmi_source_yaml_parse (y, strlen (y), "s.yaml", &s) == 0
         && !strcmp (s.url, "https://vc/sdk") && !strcmp (s.dc, "DC1"));
  vmi_source_spec_clear (&s);
}

/* A tar header.  SIZE_B256: write the size in GNU base-256. */
static void
tar_header (unsigned char *h, const char *name, char type, unsigned long long size,
            int size_b256, const char *prefix)
{
  unsigned sum = 0;

  memset (h, 0, 512);
  strncpy ((char *) h, name, 100);
  memcpy (h + 100, "0000644", 7);
  if (size_b256) {
    h[124] = 0x80;
    for (int i = 0; i < 8; i++)
      h[135 - i] = (unsigned char) (size >> (8 * i));
  }
  else
    snprintf ((char *) h + 124, 12, "%011llo", size);
  h[156] = (unsigned char) type;
  memcpy (h + 257, "ustar", 6);
  memcpy (h + 263, "00", 2);
  if (prefix)
    strncpy ((char *) h + 345, prefix, 155);
  memset (h + 148, ' ', 8);
  for (int i = 0; i < 512; i++)
    sum += h[i];
  snprintf ((char *) h + 148, 8, "%06o", sum);
}

static int
member_is (struct vmi_layer *a, const char *name, const char *want, size_t len)
{
  struct vmi_layer *m = vmi_tar_open_member (a, name);
  char buf[64] = "";
  int ok;

  if (m == NULL)
    return 0;
  ok = m->size == len && vmi_layer_pread (m, buf, len, 0) == 0
       && memcmp (buf, want, len) == 0;
  vmi_layer_close (m);
  return ok;
}

static int
count_cb (void *opaque, const char *name, uint64_t offset, uint64_t size)
{
  (void) name, (void) offset, (void) size;
  ++*(int *) opaque;
  return 0;
}

static void
test_tar (void)
{
  static unsigned char t[512 * 16];
  unsigned char *p = t;
  const char pax[] = "17 path=pax/name\n10 size=5\n";
  struct vmi_layer *a;

  /* 1: plain file "a.txt" (3 bytes), with a "./" prefix. */
  tar_header (p, "./a.txt", '0', 3, 0, NULL); p += 512;
  memcpy (p, "abc", 3); p += 512;
  /* 2: a folder, then a file with ustar prefix, size in base-256. */
  tar_header (p, "dir/", '5', 0, 0, NULL); p += 512;
  tar_header (p, "b.bin", '0', 4, 1, "dir"); p += 512;
  memcpy (p, "bbbb", 4); p += 512;
  /* 3: GNU long name. */
  tar_header (p, "././@LongLink", 'L', 9, 0, NULL); p += 512;
  memcpy (p, "long/name", 9); p += 512;
  tar_header (p, "long/na", '0', 2, 0, NULL); p += 512;
  memcpy (p, "LL", 2); p += 512;
  /* 4: pax path and size override the header's. */
  tar_header (p, "PaxHeaders/x", 'x', sizeof pax - 1, 0, NULL); p += 512;
  memcpy (p, pax, sizeof pax - 1); p += 512;
  tar_header (p, "short", '0', 0, 0, NULL); p += 512;
  memcpy (p, "ppppp", 5); p += 512;
  /* then two zero blocks */
  p += 1024;

  a = vmi_memory_open (t, (uint64_t) (p - t), "mem.tar");
  CHECK ("tar_dot_slash_member", member_is (a, "a.txt", "abc", 3));
  CHECK ("tar_ustar_prefix_and_base256_size", member_is (a, "dir/b.bin", "bbbb", 4));
  CHECK ("tar_gnu_long_name", member_is (a, "long/name", "LL", 2));
  CHECK ("tar_pax_path_and_size", member_is (a, "pax/name", "ppppp", 5));
  CHECK ("tar_missing_member_lists_members",
         vmi_tar_open_member (a, "nope") == NULL && strstr (vmi_error_get (), "dir/b.bin"));
  vmi_layer_close (a);

  /* Truncated inside the first member's data. */
  a = vmi_memory_open (t, 600, "cut.tar");
  tar_header (t, "a.txt", '0', 3000, 0, NULL);
  CHECK ("tar_truncated_member_is_an_error",
         vmi_tar_open_member (a, "zzz") == NULL && strstr (vmi_error_get (), "truncated"));
  vmi_layer_close (a);
  /* Bad checksum. */
  t[0] ^= 1;
  a = vmi_memory_open (t, sizeof t, "bad.tar");
  CHECK ("tar_bad_checksum_is_an_error",
         vmi_tar_open_member (a, "a.txt") == NULL && strstr (vmi_error_get (), "checksum"));
  vmi_layer_close (a);
  /* Huge base-256 size. */
  tar_header (t, "h", '0', 0, 0, NULL);
  t[124] = 0x80;
  memset (t + 125, 0xff, 11);
  memset (t + 148, ' ', 8);
  {
    unsigned sum = 0;
    for (int i = 0; i < 512; i++)
      sum += t[i];
    snprintf ((char *) t + 148, 8, "%06o", sum);
  }
  a = vmi_memory_open (t, sizeof t, "huge.tar");
  CHECK ("tar_huge_size_is_an_error", vmi_tar_open_member (a, "h") == NULL);
  vmi_layer_close (a);

  /* Two members of one name ("./d.vmdk" and "d.vmdk"): a whole walk
   * refuses the archive, naming the member. */
  memset (t, 0, sizeof t);
  p = t;
  tar_header (p, "./d.vmdk", '0', 3, 0, NULL); p += 512;
  memcpy (p, "one", 3); p += 512;
  tar_header (p, "e.txt", '0', 1, 0, NULL); p += 512;
  memcpy (p, "e", 1); p += 512;
  tar_header (p, "d.vmdk", '0', 3, 0, NULL); p += 512;
  memcpy (p, "two", 3); p += 512;
  p += 1024;
  a = vmi_memory_open (t, (uint64_t) (p - t), "dup.tar");
  /* No regular member at all (a folder, then the end): nothing to
   * compare, no error (UBSan once caught qsort of a NULL list here). */
  {
    static unsigned char e[512 * 4];
    struct vmi_layer *ea;
    int n = 0;
    tar_header (e, "dir/", '5', 0, 0, NULL);
    ea = vmi_memory_open (e, sizeof e, "empty.tar");
    CHECK ("tar_without_members_lists_nothing",
           vmi_tar_list (ea, count_cb, &n) == 0 && n == 0);
    vmi_layer_close (ea);
  }
  CHECK ("tar_duplicate_member_is_refused_by_name",
         vmi_tar_list (a, count_cb, &(int){ 0 }) == -1
         && strstr (vmi_error_get (), "two members named d.vmdk") != NULL);
  vmi_layer_close (a);
}

/* A vApp: every VirtualSystem a VM with the disks its hardware names. */
static void
test_ovf_collection (void)
{
  static const char refs[] =
    "<References><File ovf:id='f1' ovf:href='a.vmdk'/><File ovf:id='f2' ovf:href='b.img'/></References>"
    "<DiskSection><Disk ovf:diskId='d1' ovf:fileRef='f1' ovf:capacity='1'/>"
    "<Disk ovf:diskId='d2' ovf:fileRef='f2' ovf:capacity='2'/></DiskSection>";
  char xml[4096];
  struct vmi_vm **vms = NULL;
  size_t n = 0;
  int r;

  snprintf (xml, sizeof xml, ENV_OPEN "%s<VirtualSystemCollection ovf:id='app'>"
    "<VirtualSystem ovf:id='web'><Name>web</Name><VirtualHardwareSection>"
    "<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>6</rasd:ResourceType><rasd:ResourceSubType>VirtioSCSI</rasd:ResourceSubType></Item>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d2</rasd:HostResource><rasd:Parent>1</rasd:Parent></Item>"
    "<Item><rasd:ResourceType>10</rasd:ResourceType><rasd:Connection>NAT</rasd:Connection></Item>"
    "<Item><rasd:ResourceType>10</rasd:ResourceType><rasd:Connection>NAT</rasd:Connection></Item>"
    "</VirtualHardwareSection>"
    "<Machine><Hardware><Network><Adapter slot='0' enabled='true' MACAddress='080027AABBCC'/>"
    "<Adapter slot='1' enabled='false' MACAddress='080027000000'/><Adapter slot='2' enabled='true' MACAddress='0800271122ZZ'/>"
    "</Network></Hardware></Machine></VirtualSystem>"
    "<VirtualSystemCollection><VirtualSystem ovf:id='db'><VirtualHardwareSection>"
    "<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>20</rasd:ResourceType><rasd:ResourceSubType>NVMe</rasd:ResourceSubType></Item>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>/disk/d1</rasd:HostResource><rasd:Parent>1</rasd:Parent></Item>"
    "</VirtualHardwareSection></VirtualSystem></VirtualSystemCollection>"
    "</VirtualSystemCollection></Envelope>", refs);
  r = vmi_ovf_parse_all (xml, strlen (xml), "vapp.ovf", &vms, &n);
  CHECK ("ovf_collection_two_vms", r == 0 && n == 2);
  if (r == 0 && n == 2) {
    CHECK ("ovf_collection_names", !strcmp (vms[0]->name, "web") && !strcmp (vms[1]->name, "db"));
    CHECK ("ovf_collection_each_its_disks",
           vms[0]->ndisks == 1 && !strcmp (vms[0]->disks[0].source_name, "b.img")
           && vms[0]->disks[0].capacity == 2 && vms[1]->ndisks == 1
           && !strcmp (vms[1]->disks[0].source_name, "a.vmdk"));
    CHECK ("ovf_virtioscsi_is_scsi", vms[0]->disks[0].bus && !strcmp (vms[0]->disks[0].bus, "scsi"));
    CHECK ("ovf_nvme_in_nested_collection", vms[1]->disks[0].bus && !strcmp (vms[1]->disks[0].bus, "nvme"));
    CHECK ("ovf_vbox_mac_of_enabled_adapters",
           vms[0]->nnics == 2 && vms[0]->nics[0].mac && !strcmp (vms[0]->nics[0].mac, "08:00:27:aa:bb:cc")
           && vms[0]->nics[1].mac == NULL);
    CHECK ("ovf_vbox_machine_without_firmware_is_bios",
           vms[0]->firmware && !strcmp (vms[0]->firmware, "bios") && vms[1]->firmware == NULL);
  }
  for (size_t i = 0; i < n; i++)
    vmi_vm_free (vms[i]);
  free (vms);

  snprintf (xml, sizeof xml, ENV_OPEN "%s<VirtualSystemCollection>"
    "<VirtualSystem ovf:id='one'><VirtualHardwareSection>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>"
    "</VirtualHardwareSection></VirtualSystem>"
    "<VirtualSystem ovf:id='two'><VirtualHardwareSection>"
    "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>ovf:/disk/d1</rasd:HostResource></Item>"
    "</VirtualHardwareSection></VirtualSystem></VirtualSystemCollection></Envelope>", refs);
  CHECK ("ovf_disk_of_two_systems_names_both",
         vmi_ovf_parse_all (xml, strlen (xml), "x.ovf", &vms, &n) == -1 && n == 0
         && strstr (vmi_error_get (), "disk d1 is used by two VirtualSystems, \"one\" and \"two\""));
  /* VirtualBox's controller names: ICH6 (IDE), LsiLogicSas, BusLogic. */
  {
    static const char *subs[][3] = { { "5", "ICH6", "ide" }, { "20", "LsiLogicSas", "scsi" },
                                     { "6", "BusLogic", "scsi" }, { "5", "PIIX3", "ide" } };
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
      struct vmi_vm *vm;
      snprintf (xml, sizeof xml, ENV_OPEN "%s<VirtualSystem ovf:id='v'><VirtualHardwareSection>"
        "<Item><rasd:InstanceID>1</rasd:InstanceID><rasd:ResourceType>%s</rasd:ResourceType><rasd:ResourceSubType>%s</rasd:ResourceSubType></Item>"
        "<Item><rasd:ResourceType>17</rasd:ResourceType><rasd:HostResource>/disk/d1</rasd:HostResource><rasd:Parent>1</rasd:Parent></Item>"
        "</VirtualHardwareSection></VirtualSystem></Envelope>", refs, subs[i][0], subs[i][1]);
      vm = ovf (xml);
      CHECK ("ovf_virtualbox_controller_names", vm && vm->ndisks == 2 && vm->disks[0].bus
             && !strcmp (vm->disks[0].bus, subs[i][2]));
      vmi_vm_free (vm);
    }
  }
  CHECK ("ovf_chunk_size_not_a_number_refused",
         ovf (ENV_OPEN "<References><File ovf:id='f' ovf:href='a' ovf:chunkSize='0'/></References>"
              "<DiskSection><Disk ovf:diskId='d' ovf:fileRef='f' ovf:capacity='1'/></DiskSection>"
              "<VirtualSystem ovf:id='x'/></Envelope>") == NULL
         && strstr (vmi_error_get (), "chunkSize=\"0\""));
}

int
main (void)
{
  test_ovf ();
  test_ovf_collection ();
  test_manifest ();
  test_yaml ();
  test_tar ();
  return check_summary ();
}
