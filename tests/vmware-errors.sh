# VMware part: errors say what and where; the password is never shown.
# Sourced by tests/vmware.sh.
echo 'wrong-password' > "$T/badpw"
check_fails "wrong password: authentication error naming the endpoint" \
  "https://$VC_HOST/sdk: Login: authentication failed" \
  "$VMI" ls --ca-cert "$VC_CA" --password-file "$T/badpw" "$VC_SRC"
check_fails "wrong datacenter: datacenter X not found" \
  "datacenter NoSuchDC not found" \
  "$VMI" ls "${VC_OPTS[@]}" "vmware://admin%40vsphere.local@$VC_HOST/NoSuchDC"
check_fails "unknown folder: named" "folder nope/deeper not found in datacenter DC0" \
  "$VMI" ls "${VC_OPTS[@]}" "$VC_SRC/nope/deeper"
check_fails "unknown VM: named" "no VM named 'ghost'" \
  "$VMI" copy "${VC_OPTS[@]}" "$VC_SRC" --vm ghost --disk 0 "$T/ghost.raw"
check_fails "unknown CA: refused without --ca-cert" \
  "TLS certificate verification failed" \
  "$VMI" ls --password-file "$VC_PW" "$VC_SRC"
check_fails "a password in the URL is refused" "holds a password" \
  "$VMI" ls --ca-cert "$VC_CA" "vmware://u:secret@$VC_HOST/DC0"
check_fails "no user name: said so" "a user name and a password are needed" \
  "$VMI" ls "${VC_OPTS[@]}" "vmware://$VC_HOST/DC0"
check_fails "--password on the command line is refused" "never taken on the command line" \
  "$VMI" ls --ca-cert "$VC_CA" --password x "$VC_SRC"

# The password never appears in what vmimport prints, even with -vv, in
# success or failure, nor in vmimportfs's log.
no_password_shown () {
  local pw; pw=$(cat "$VC_PW")
  {
    "$VMI" ls -vv --json "${VC_OPTS[@]}" "$VC_SRC"
    "$VMI" copy -vv --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm "$(vc_moref app 0)" --disk 0 "$T/pw.raw"
    "$VMI" ls -vv "${VC_OPTS[@]}" "vmware://admin%40vsphere.local@$VC_HOST/NoSuchDC"
    "$VMI" ls -vv --ca-cert "$VC_CA" --password-file "$T/badpw" "$VC_SRC"
    cat "$T/vmimportfs.log" 2>/dev/null
  } > "$T/all-output.txt" 2>&1
  rm -f "$T/pw.raw"
  [ -s "$T/all-output.txt" ] || return 1
  ! grep -F -e "$pw" -e "wrong-password" -e "vmware_soap_session=" "$T/all-output.txt"
}
check "no password (nor session cookie) in output, errors or logs (-vv)" no_password_shown

check_fails "a descriptor whose extent climbs out of the datastore is refused" \
  "escape/escape.vmdk.*climbs out of the datastore" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm escape --disk 0 "$T/escape.raw"
rm -f "$(json_get "$VC_DIR/state.json" datastore_dir)/broken/gone.vmdk"
check_fails "a disk file missing on the datastore: VM, disk, path and 404 named" \
  "VM broken disk 0 \\(\\[LocalDS_0\\] broken/gone.vmdk\\).*404" \
  "$VMI" copy --quiet "${VC_OPTS[@]}" "$VC_SRC" --vm broken --disk 0 "$T/broken.raw"

# The peer is as strict as a vCenter, so nothing above passes by accident:
# /folder without the session cookie is 401, and a property collector call
# without a session is a NotAuthenticated fault.
peer_is_strict () {
  local code
  code=$(curl -s -o /dev/null -w '%{http_code}' --cacert "$VC_CA" \
    "${VC_URL%/sdk}/folder/app/flat.vmdk?dcPath=DC0&dsName=LocalDS_0")
  echo "/folder without a cookie: HTTP $code"
  [ "$code" = 401 ] || return 1
  curl -s --cacert "$VC_CA" -H 'Content-Type: text/xml' --data-binary @- "$VC_URL" > "$T/strict.xml" <<'XML'
<?xml version="1.0"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Body><RetrievePropertiesEx xmlns="urn:vim25"><_this type="PropertyCollector">propertyCollector</_this><specSet><propSet><type>Folder</type><pathSet>name</pathSet></propSet><objectSet><obj type="Folder">group-d1</obj></objectSet></specSet><options/></RetrievePropertiesEx></soapenv:Body></soapenv:Envelope>
XML
  python3 - "$T/strict.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
r = ET.parse(sys.argv[1]).getroot()
d = r.find(".//detail")
t = d[0].get("{http://www.w3.org/2001/XMLSchema-instance}type") if d is not None and len(d) else None
print("fault:", t); sys.exit(0 if t == "NotAuthenticated" else 1)
PY
}
check "the peer is strict: 401 on /folder and NotAuthenticated without a session" peer_is_strict

busy_server () {
  vc_reset
  curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/fail-next?n=3" >/dev/null
  "$VMI" ls "${VC_OPTS[@]}" "$VC_SRC" >/dev/null || return 1
  echo "503s answered: $(vc_stat injected_503)"
  [ "$(vc_stat injected_503)" = 3 ]
}
check "a vCenter answering 503 a few times: the calls are retried" busy_server
vc_reset
curl -s -X POST --cacert "$VC_CA" "${VC_URL%/sdk}/vcsim/fail-next?n=1000" >/dev/null
check_fails "a vCenter that stays busy: HTTP 503 and the endpoint named, after the retries" \
  "https://$VC_HOST/sdk: RetrieveServiceContent: the server answered HTTP 503" \
  "$VMI" ls "${VC_OPTS[@]}" --retries 2 "$VC_SRC"
vc_reset
