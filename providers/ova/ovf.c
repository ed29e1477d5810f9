/* OVF descriptors (DMTF DSP0243, 1.x and 2.x) -> struct vmi_vm.
 *
 * Parsed with libxml2 from memory with network access off and without
 * entity substitution; a document with a DOCTYPE is refused outright (an
 * OVF has no use for one, and it is where external entities and
 * entity-expansion bombs live).  Elements and attributes are matched by
 * local name, so ovf:, rasd:, sasd:, epasd: and vmw: prefixes bound to any
 * namespace URI all work.
 *
 * What is read: References/File (href, compression, chunkSize),
 * DiskSection/Disk (capacity and its units, fileRef, format), and for
 * every VirtualSystem (one, or several in a VirtualSystemCollection: a
 * vApp) its Name, OperatingSystemSection, and the Items of its
 * VirtualHardwareSection: CPU (3), memory (4), controllers (5 IDE, 6 SCSI,
 * 20 other: SATA/AHCI, NVMe, virtio by ResourceSubType, as VMware and
 * VirtualBox name them), disks (17, via HostResource ovf:/disk/ID and
 * Parent), NICs (10; EthernetPortItem), vmw:Config / vmw:ExtraConfig
 * firmware and secure boot, and VirtualBox's vbox:Machine (firmware, MAC
 * addresses).  A lone VirtualSystem gets every disk of the DiskSection;
 * in a collection each gets the disks its hardware names, and a disk
 * named by two systems is an error. */
#include <errno.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>
#include <libxml/tree.h>

#include "vmimport/error.h"
#include "vmimport/ova.h"
#include "ova-internal.h"

struct controller {
  char *id;
  const char *bus;   /* static string or NULL */
};

struct ovf {
  const char *where;
  xmlDoc *doc;
  struct controller *ctl;
  size_t nctl;
};

static bool
is (const xmlNode *n, const char *name)
{
  return n->type == XML_ELEMENT_NODE && strcmp ((const char *) n->name, name) == 0;
}

static xmlNode *
child (const xmlNode *parent, const char *name)
{
  for (xmlNode *c = parent->children; c; c = c->next)
    if (is (c, name))
      return c;
  return NULL;
}

/* Trimmed copy of S (an xmlChar string we then free). */
static char *
trimmed (xmlChar *s)
{
  char *p = (char *) s, *r;
  size_t n;

  if (s == NULL)
    return NULL;
  while (*p == ' ' || *p == '\t' || *p == '\n' || *p == '\r')
    p++;
  n = strlen (p);
  while (n > 0 && (p[n - 1] == ' ' || p[n - 1] == '\t' || p[n - 1] == '\n'
                   || p[n - 1] == '\r'))
    n--;
  r = strndup (p, n);
  xmlFree (s);
  return r;
}

/* Attribute by local name, whatever its namespace.  Caller frees. */
static char *
attr (const xmlNode *n, const char *name)
{
  for (xmlAttr *a = n->properties; a; a = a->next)
    if (strcmp ((const char *) a->name, name) == 0)
      return trimmed (xmlNodeListGetString (n->doc, a->children, 1));
  return NULL;
}

/* Text of the child element NAME.  Caller frees. */
static char *
child_text (const xmlNode *n, const char *name)
{
  xmlNode *c = child (n, name);

  return c ? trimmed (xmlNodeGetContent (c)) : NULL;
}

static bool
parse_i64 (const char *s, int64_t *out)
{
  char *end;
  long long v;

  if (s == NULL || *s == '\0')
    return false;
  errno = 0;
  v = strtoll (s, &end, 10);
  if (errno || *end != '\0' || v < 0)
    return false;
  *out = v;
  return true;
}

/* Allocation units as OVF writes them: "byte", "byte * 2^20",
 * "byte * 1024", "KiloBytes", "MegaBytes", "GigaBytes", "MB".
 * Returns the multiplier in bytes, or -1 if not understood. */
static int64_t
units (const char *s)
{
  char buf[64];
  size_t n = 0;
  int64_t base, exp;

  if (s == NULL)
    return -1;
  for (; *s && n < sizeof buf - 1; s++)
    if (*s != ' ' && *s != '\t')
      buf[n++] = (char) (*s >= 'A' && *s <= 'Z' ? *s + 32 : *s);
  buf[n] = '\0';
  if (!strcmp (buf, "byte") || !strcmp (buf, "bytes") || !strcmp (buf, "b"))
    return 1;
  if (!strcmp (buf, "kilobytes") || !strcmp (buf, "kb") || !strcmp (buf, "kib"))
    return INT64_C (1) << 10;
  if (!strcmp (buf, "megabytes") || !strcmp (buf, "mb") || !strcmp (buf, "mib"))
    return INT64_C (1) << 20;
  if (!strcmp (buf, "gigabytes") || !strcmp (buf, "gb") || !strcmp (buf, "gib"))
    return INT64_C (1) << 30;
  if (!strcmp (buf, "terabytes") || !strcmp (buf, "tb") || !strcmp (buf, "tib"))
    return INT64_C (1) << 40;
  if (strncmp (buf, "byte*", 5) != 0)
    return -1;
  {
    char *caret = strchr (buf + 5, '^');
    if (caret) {
      *caret = '\0';
      if (!parse_i64 (buf + 5, &base) || !parse_i64 (caret + 1, &exp)
          || base < 2 || exp > 62)
        return -1;
      int64_t v = 1;
      for (int64_t i = 0; i < exp; i++) {
        if (v > INT64_MAX / base)
          return -1;
        v *= base;
      }
      return v;
    }
    if (!parse_i64 (buf + 5, &base) || base == 0)
      return -1;
    return base;
  }
}

/* QUANTITY * UNITS, or -1 when either is unknown or it overflows. */
static int64_t
scaled (const char *quantity, const char *unit_text, int64_t default_unit)
{
  int64_t q, u = unit_text ? units (unit_text) : default_unit;

  if (!parse_i64 (quantity, &q) || u <= 0 || (q > 0 && u > INT64_MAX / q))
    return -1;
  return q * u;
}

/* The bus a controller Item stands for. */
static const char *
controller_bus (int64_t type, const char *subtype)
{
  if (subtype) {
    if (strcasestr (subtype, "nvme"))
      return "nvme";
    if (strcasestr (subtype, "ahci") || strcasestr (subtype, "sata"))
      return "sata";
    /* VirtualBox's "VirtioSCSI" is a SCSI controller, not virtio-blk. */
    if (strcasestr (subtype, "virtioscsi") || strcasestr (subtype, "virtio-scsi"))
      return "scsi";
    if (strcasestr (subtype, "virtio"))
      return "virtio";
    if (strcasestr (subtype, "piix") || !strcasecmp (subtype, "ide"))
      return "ide";
    if (strcasestr (subtype, "scsi") || strcasestr (subtype, "lsilogic")
        || strcasestr (subtype, "buslogic") || strcasestr (subtype, "sas"))
      return "scsi";
  }
  switch (type) {
  case 5: return "ide";
  case 6: return "scsi";
  default: return NULL;
  }
}

static const char *
disk_format (const char *uri)
{
  if (uri == NULL)
    return NULL;
  if (strcasestr (uri, "vmdk"))
    return "vmdk";
  if (strcasestr (uri, "qcow2"))
    return "qcow2";
  if (strcasestr (uri, "vhdx"))
    return "vhdx";
  if (strcasestr (uri, "vhd"))
    return "vhd";
  if (strcasestr (uri, "raw") || strcasestr (uri, "img"))
    return "raw";
  return NULL;
}

static int
nomem (const char *where)
{
  errno = ENOMEM;
  vmi_error ("%s: out of memory", where);
  return -1;
}

/* "ovf:/disk/vmdisk1" -> "vmdisk1"; also "/disk/ID". */
static const char *
disk_ref (const char *host_resource)
{
  const char *p;

  if (host_resource == NULL)
    return NULL;
  p = strstr (host_resource, "/disk/");
  return p ? p + 6 : NULL;
}

static void
set_firmware (struct vmi_vm *vm, const char *key, const char *value)
{
  if (key == NULL || value == NULL)
    return;
  if (!strcasecmp (key, "firmware")) {
    const char *fw = !strcasecmp (value, "efi") ? "efi"
                     : !strcasecmp (value, "bios") ? "bios" : NULL;
    if (fw) {
      free (vm->firmware);
      vm->firmware = strdup (fw);
    }
  }
  else if (!strcasecmp (key, "uefi.secureBoot.enabled")
           || !strcasecmp (key, "bootOptions.efiSecureBootEnabled"))
    vm->secure_boot = !strcasecmp (value, "true") || !strcmp (value, "1");
  else if (!strcasecmp (key, "vtpm.present"))
    vm->tpm = !strcasecmp (value, "true") || !strcmp (value, "1");
}

/* Pass 1 over the hardware: controllers (so a disk Item before its
 * controller still finds it), CPUs, memory, NICs, firmware. */
static int
read_hardware (struct ovf *o, xmlNode *hw, struct vmi_vm *vm)
{
  for (xmlNode *it = hw->children; it; it = it->next) {
    if (is (it, "Config") || is (it, "ExtraConfig")) {
      char *k = attr (it, "key"), *v = attr (it, "value");
      set_firmware (vm, k, v);
      free (k);
      free (v);
      continue;
    }
    if (!is (it, "Item") && !is (it, "StorageItem")
        && !is (it, "EthernetPortItem"))
      continue;
    char *rt = child_text (it, "ResourceType");
    char *sub = child_text (it, "ResourceSubType");
    int64_t type = -1;
    int r = 0;

    parse_i64 (rt, &type);
    /* vSphere exports a virtual TPM as an Item of type 1 (Other),
     * ResourceSubType "vmware.vtpm". */
    if (type == 1 && sub && strcasestr (sub, "tpm"))
      vm->tpm = 1;
    else if (type == 3) {
      char *q = child_text (it, "VirtualQuantity");
      char *cps = child_text (it, "CoresPerSocket");
      int64_t v;
      if (parse_i64 (q, &v) && v > 0 && v < 1 << 20)
        vm->cpus = (int) v;
      if (parse_i64 (cps, &v) && v > 0 && v < 1 << 20)
        vm->cores_per_socket = (int) v;
      free (q);
      free (cps);
    }
    else if (type == 4) {
      char *q = child_text (it, "VirtualQuantity");
      char *u = child_text (it, "AllocationUnits");
      int64_t bytes = scaled (q, u, INT64_C (1) << 20);
      if (bytes >= 0)
        vm->memory_mib = bytes >> 20;
      free (q);
      free (u);
    }
    else if (type == 5 || type == 6 || type == 20
             || (type == 1 && sub && controller_bus (type, sub))) {
      struct controller *c = realloc (o->ctl, (o->nctl + 1) * sizeof *c);
      if (c == NULL)
        r = nomem (o->where);
      else {
        o->ctl = c;
        c[o->nctl].id = child_text (it, "InstanceID");
        c[o->nctl].bus = controller_bus (type, sub);
        o->nctl++;
      }
    }
    else if (type == 10 || is (it, "EthernetPortItem")) {
      struct vmi_nic *n = vmi_vm_add_nic (vm);
      if (n == NULL)
        r = -1;
      else {
        n->network = child_text (it, "Connection");
        n->model = sub ? strdup (sub) : NULL;
        n->mac = child_text (it, "Address");
        if (n->mac && *n->mac == '\0') {
          free (n->mac);
          n->mac = NULL;
        }
      }
    }
    free (rt);
    free (sub);
    if (r == -1)
      return -1;
  }
  return 0;
}

/* The bus of the disk DISK_ID: the controller its Item hangs on. */
static const char *
bus_of_disk (struct ovf *o, xmlNode *hw, const char *disk_id)
{
  for (xmlNode *it = hw ? hw->children : NULL; it; it = it->next) {
    if (!is (it, "Item") && !is (it, "StorageItem"))
      continue;
    char *rt = child_text (it, "ResourceType");
    char *hr = child_text (it, "HostResource");
    char *parent = NULL;
    const char *bus = NULL, *ref = disk_ref (hr);
    bool match = rt && !strcmp (rt, "17") && ref && !strcmp (ref, disk_id);

    if (match && (parent = child_text (it, "Parent")) != NULL)
      for (size_t i = 0; i < o->nctl; i++)
        if (o->ctl[i].id && !strcmp (o->ctl[i].id, parent))
          bus = o->ctl[i].bus;
    free (rt);
    free (hr);
    free (parent);
    if (match)
      return bus;
  }
  return NULL;
}

static xmlNode *
file_by_id (xmlNode *refs, const char *id)
{
  for (xmlNode *f = refs ? refs->children : NULL; f; f = f->next) {
    if (!is (f, "File"))
      continue;
    char *fid = attr (f, "id");
    bool m = fid && !strcmp (fid, id);
    free (fid);
    if (m)
      return f;
  }
  return NULL;
}

/* Does a disk Item of HW name disk DISK_ID? */
static bool
hw_names_disk (xmlNode *hw, const char *disk_id)
{
  for (xmlNode *it = hw ? hw->children : NULL; it; it = it->next) {
    if (!is (it, "Item") && !is (it, "StorageItem"))
      continue;
    char *hr = child_text (it, "HostResource");
    const char *ref = disk_ref (hr);
    bool m = ref && !strcmp (ref, disk_id);
    free (hr);
    if (m)
      return true;
  }
  return false;
}

/* The disks of VM: every Disk of the DiskSection, or (ONLY_NAMED, in a
 * collection) those HW names. */
static int
read_disks (struct ovf *o, xmlNode *env, xmlNode *hw, struct vmi_vm *vm,
            bool only_named)
{
  xmlNode *refs = child (env, "References");
  xmlNode *ds = child (env, "DiskSection");

  for (xmlNode *d = ds ? ds->children : NULL; d; d = d->next) {
    if (!is (d, "Disk"))
      continue;
    char *id = attr (d, "diskId"), *fref = attr (d, "fileRef");
    if (only_named && id && !hw_names_disk (hw, id)) {
      free (id);
      free (fref);
      continue;
    }
    char *cap = attr (d, "capacity"), *capu = attr (d, "capacityAllocationUnits");
    char *fmt = attr (d, "format");
    struct vmi_disk *disk;
    struct ova_file_info *info;
    xmlNode *f;
    int r = -1;

    if (id == NULL) {
      errno = EINVAL;
      vmi_error ("%s: a Disk in DiskSection has no ovf:diskId", o->where);
      goto next;
    }
    if (fref == NULL) {
      errno = ENOTSUP;
      vmi_error ("%s: disk %s has no ovf:fileRef (an empty disk to be "
                 "created); there is nothing to import for it", o->where, id);
      goto next;
    }
    if ((f = file_by_id (refs, fref)) == NULL) {
      errno = EINVAL;
      vmi_error ("%s: disk %s refers to file %s, which References does not "
                 "list", o->where, id, fref);
      goto next;
    }
    if ((disk = vmi_vm_add_disk (vm)) == NULL)
      goto next;
    disk->capacity = scaled (cap, capu, 1);
    {
      const char *bus = bus_of_disk (o, hw, id);
      const char *sf = disk_format (fmt);
      char *comp = attr (f, "compression"), *chunk = attr (f, "chunkSize");
      char *size = attr (f, "size");
      disk->source_name = attr (f, "href");
      disk->bus = bus ? strdup (bus) : NULL;
      disk->source_format = sf ? strdup (sf) : fmt ? strdup (fmt) : NULL;
      info = calloc (1, sizeof *info);
      if (info) {
        info->gzip = comp && !strcasecmp (comp, "gzip");
        int64_t cs = 0;
        info->chunked = chunk != NULL;
        if (chunk && parse_i64 (chunk, &cs) && cs > 0)
          info->chunk_size = (uint64_t) cs;
        if (!parse_i64 (size, &info->size))
          info->size = -1;
      }
      disk->provider_data = info;
      if (info && info->chunked && info->chunk_size == 0) {
        errno = EINVAL;
        vmi_error ("%s: file %s has ovf:chunkSize=\"%s\", which is not a "
                   "positive number of bytes", o->where, disk->source_name
                   ? disk->source_name : fref, chunk);
        free (comp);
        free (chunk);
        free (size);
        goto next;
      }
      if (info && comp && !info->gzip && strcasecmp (comp, "identity")) {
        errno = ENOTSUP;
        vmi_error ("%s: disk file %s uses compression \"%s\" (only gzip is "
                   "supported)", o->where, disk->source_name
                   ? disk->source_name : fref, comp);
        free (comp);
        free (chunk);
        free (size);
        goto next;
      }
      free (comp);
      free (chunk);
      free (size);
    }
    if (disk->source_name == NULL || info == NULL) {
      if (disk->source_name == NULL && info) {
        errno = EINVAL;
        vmi_error ("%s: file %s has no ovf:href", o->where, fref);
      }
      else
        nomem (o->where);
      goto next;
    }
    r = 0;
  next:
    free (id);
    free (fref);
    free (cap);
    free (capu);
    free (fmt);
    if (r == -1)
      return -1;
  }
  return 0;
}

static void
set_text (char **field, char *value)
{
  if (value && *value) {
    free (*field);
    *field = value;
  }
  else
    free (value);
}

/* VirtualBox writes its own settings in a vbox:Machine section: firmware
 * (BIOS unless <Firmware type="EFI..."/>) and the NICs' MAC addresses,
 * which its OVF Items leave out (enabled adapters, in slot order). */
static void
read_vbox_machine (xmlNode *vs, struct vmi_vm *vm)
{
  xmlNode *m = child (vs, "Machine"), *hw, *fw, *net;
  size_t k = 0;

  if (m == NULL || (hw = child (m, "Hardware")) == NULL)
    return;
  if (vm->firmware == NULL) {
    char *type = (fw = child (hw, "Firmware")) ? attr (fw, "type") : NULL;
    vm->firmware = strdup (type && !strncasecmp (type, "EFI", 3) ? "efi"
                           : "bios");
    free (type);
  }
  if ((net = child (hw, "Network")) == NULL)
    return;
  for (xmlNode *a = net->children; a && k < vm->nnics; a = a->next) {
    char *en, *mac;
    if (!is (a, "Adapter"))
      continue;
    en = attr (a, "enabled");
    mac = attr (a, "MACAddress");
    if (en && !strcasecmp (en, "true")) {
      struct vmi_nic *n = &vm->nics[k++];
      if (mac && strlen (mac) == 12
          && strspn (mac, "0123456789abcdefABCDEF") == 12
          && n->mac == NULL && (n->mac = malloc (18)) != NULL)
        for (int i = 0; i < 6; i++)
          snprintf (n->mac + 3 * i, 4, "%c%c%s",
                    mac[2 * i] | 0x20, mac[2 * i + 1] | 0x20, i < 5 ? ":" : "");
    }
    free (en);
    free (mac);
  }
}

/* One VirtualSystem as a VM. */
static struct vmi_vm *
read_system (struct ovf *o, xmlNode *env, xmlNode *vs, bool only_named)
{
  char *name = child_text (vs, "Name");
  struct vmi_vm *vm;
  xmlNode *hw, *os;

  if (name == NULL || *name == '\0') {
    free (name);
    name = attr (vs, "id");
  }
  vm = vmi_vm_new (name && *name ? name : "vm");
  free (name);
  if (vm == NULL)
    return NULL;
  for (size_t i = 0; i < o->nctl; i++)
    free (o->ctl[i].id);
  o->nctl = 0;
  if ((os = child (vs, "OperatingSystemSection")) != NULL) {
    set_text (&vm->guest_os, child_text (os, "Description"));
    set_text (&vm->guest_os, attr (os, "osType"));
  }
  hw = child (vs, "VirtualHardwareSection");
  if ((hw && read_hardware (o, hw, vm) == -1)
      || read_disks (o, env, hw, vm, only_named) == -1) {
    vmi_vm_free (vm);
    return NULL;
  }
  read_vbox_machine (vs, vm);
  return vm;
}

/* Every VirtualSystem at or below N (collections nest), in document
 * order, appended to *V. */
static int
collect_systems (xmlNode *n, xmlNode ***v, size_t *nv, const char *where)
{
  for (; n; n = n->next) {
    if (is (n, "VirtualSystem")) {
      xmlNode **t = realloc (*v, (*nv + 1) * sizeof *t);
      if (t == NULL)
        return nomem (where);
      *v = t;
      (*v)[(*nv)++] = n;
    }
    else if (is (n, "VirtualSystemCollection")
             && collect_systems (n->children, v, nv, where) == -1)
      return -1;
  }
  return 0;
}

/* A system's name for messages: its ovf:id, else its Name. */
static char *
system_name (xmlNode *vs)
{
  char *s = attr (vs, "id");

  if (s == NULL || *s == '\0') {
    free (s);
    s = child_text (vs, "Name");
  }
  return s;
}

/* In a collection, a disk belongs to one system. */
static int
check_disk_owners (struct ovf *o, xmlNode *env, xmlNode **vs, size_t nvs)
{
  xmlNode *ds = child (env, "DiskSection");

  for (xmlNode *d = ds ? ds->children : NULL; d; d = d->next) {
    char *id = is (d, "Disk") ? attr (d, "diskId") : NULL;
    xmlNode *first = NULL;
    int r = 0;
    for (size_t i = 0; id && i < nvs && r == 0; i++) {
      if (!hw_names_disk (child (vs[i], "VirtualHardwareSection"), id))
        continue;
      if (first == NULL)
        first = vs[i];
      else {
        char *a = system_name (first), *b = system_name (vs[i]);
        errno = EINVAL;
        vmi_error ("%s: disk %s is used by two VirtualSystems, \"%s\" and "
                   "\"%s\"; a disk belongs to one VM", o->where, id,
                   a ? a : "?", b ? b : "?");
        free (a);
        free (b);
        r = -1;
      }
    }
    free (id);
    if (r == -1)
      return -1;
  }
  return 0;
}

static xmlDoc *
parse_document (const char *xml, size_t len, const char *where)
{
  xmlParserCtxt *ctxt;
  xmlDoc *doc;

  if (len > OVA_MAX_DESCRIPTOR || len > INT32_MAX) {
    errno = EFBIG;
    vmi_error ("%s: OVF is %zu bytes; more than %u is not a descriptor",
               where, len, OVA_MAX_DESCRIPTOR);
    return NULL;
  }
  /* No DOCTYPE: it is how external entities and entity bombs get in. */
  if (memmem (xml, len, "<!DOCTYPE", 9) || memmem (xml, len, "<!ENTITY", 8)) {
    errno = EINVAL;
    vmi_error ("%s: the OVF declares a DOCTYPE or entities; refused (an OVF "
               "needs none, and they can read local files or expand without "
               "bound)", where);
    return NULL;
  }
  if ((ctxt = xmlNewParserCtxt ()) == NULL) {
    nomem (where);
    return NULL;
  }
  doc = xmlCtxtReadMemory (ctxt, xml, (int) len, NULL, NULL,
                           XML_PARSE_NONET | XML_PARSE_NOERROR
                           | XML_PARSE_NOWARNING | XML_PARSE_NOCDATA);
  if (doc == NULL) {
    const xmlError *e = xmlCtxtGetLastError (ctxt);
    char msg[256] = "not well-formed";
    if (e && e->message) {
      snprintf (msg, sizeof msg, "%s", e->message);
      msg[strcspn (msg, "\n")] = '\0';
    }
    errno = EINVAL;
    vmi_error ("%s: malformed OVF XML at line %d: %s", where,
               e ? e->line : 0, msg);
  }
  else if (doc->intSubset || doc->extSubset) {
    errno = EINVAL;
    vmi_error ("%s: the OVF declares a DOCTYPE; refused", where);
    xmlFreeDoc (doc);
    doc = NULL;
  }
  xmlFreeParserCtxt (ctxt);
  return doc;
}

int
vmi_ovf_parse_all (const char *xml, size_t len, const char *where,
                   struct vmi_vm ***vms_out, size_t *n_out)
{
  struct ovf o = { .where = where };
  xmlNode *env, **vs = NULL;
  struct vmi_vm **vms = NULL;
  size_t nvs = 0, n = 0;
  int r = -1;

  *vms_out = NULL;
  *n_out = 0;
  if ((o.doc = parse_document (xml, len, where)) == NULL)
    return -1;
  env = xmlDocGetRootElement (o.doc);
  if (env == NULL || !is (env, "Envelope")) {
    errno = EINVAL;
    vmi_error ("%s: not an OVF descriptor (the root element is <%s>, "
               "expected <Envelope>)", where,
               env ? (const char *) env->name : "nothing");
    goto out;
  }
  if (collect_systems (env->children, &vs, &nvs, where) == -1)
    goto out;
  if (nvs == 0) {
    errno = EINVAL;
    vmi_error ("%s: the OVF describes no VirtualSystem", where);
    goto out;
  }
  if ((nvs > 1 && check_disk_owners (&o, env, vs, nvs) == -1)
      || (vms = calloc (nvs, sizeof *vms)) == NULL) {
    if (vms == NULL && errno != EINVAL)
      nomem (where);
    goto out;
  }
  for (n = 0; n < nvs; n++)
    if ((vms[n] = read_system (&o, env, vs[n], nvs > 1)) == NULL)
      goto out;
  r = 0;
 out:
  if (r == -1 && vms) {
    for (size_t i = 0; i < n; i++)
      vmi_vm_free (vms[i]);
    free (vms);
    vms = NULL;
    n = 0;
  }
  *vms_out = vms;
  *n_out = n;
  for (size_t i = 0; i < o.nctl; i++)
    free (o.ctl[i].id);
  free (o.ctl);
  free (vs);
  if (o.doc)
    xmlFreeDoc (o.doc);
  return r;
}

struct vmi_vm *
vmi_ovf_parse (const char *xml, size_t len, const char *where)
{
  struct vmi_vm **vms, *vm;
  size_t n;

  if (vmi_ovf_parse_all (xml, len, where, &vms, &n) == -1)
    return NULL;
  vm = vms[0];
  for (size_t i = 1; i < n; i++)
    vmi_vm_free (vms[i]);
  free (vms);
  return vm;
}
