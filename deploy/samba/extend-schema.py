"""Adds msDS-ExternalDirectoryObjectId and msDS-ObjectSoa (Windows Server 2016 schema
definitions) to a freshly provisioned Samba domain, allows them on group and user, and creates
the target OU, then prints the domain SID. Usage: extend-schema.py smb.conf BASE_DN
TARGET_OU_DN (run offline, as root). Used by tests/services/samba.sh and the samba-ad image."""
import sys

from samba.auth import system_session
from samba.param import LoadParm
from samba.samdb import SamDB

conf, base, ou = sys.argv[1:4]
schema = "CN=Schema,CN=Configuration," + base
lp = LoadParm()
lp.load(conf)
db = SamDB(url=lp.private_path("sam.ldb"), session_info=system_session(), lp=lp)
update_now = "dn:\nchangetype: modify\nadd: schemaUpdateNow\nschemaUpdateNow: 1\n"
db.add_ldif(f"""dn: CN=ms-DS-External-Directory-Object-Id,{schema}
objectClass: top
objectClass: attributeSchema
cn: ms-DS-External-Directory-Object-Id
attributeID: 1.2.840.113556.1.4.2310
attributeSyntax: 2.5.5.12
isSingleValued: TRUE
rangeUpper: 256
showInAdvancedViewOnly: FALSE
adminDisplayName: ms-DS-External-Directory-Object-Id
adminDescription: ms-DS-External-Directory-Object-Id
oMSyntax: 64
searchFlags: 9
lDAPDisplayName: msDS-ExternalDirectoryObjectId
schemaIDGUID:: kL8pva1m4UCIexDfBwQZpg==
attributeSecurityGUID:: hri1d0qU0RGuvQAA+ANnwQ==
systemOnly: FALSE
isMemberOfPartialAttributeSet: TRUE
""")
db.add_ldif(f"""dn: CN=ms-DS-Object-SOA,{schema}
objectClass: top
objectClass: attributeSchema
cn: ms-DS-Object-SOA
attributeID: 1.2.840.113556.1.4.2353
attributeSyntax: 2.5.5.12
isSingleValued: TRUE
rangeLower: 1
showInAdvancedViewOnly: TRUE
adminDisplayName: ms-DS-Object-SOA
adminDescription: This attribute is used to identify the source of authority of the object.
oMSyntax: 64
searchFlags: 0
lDAPDisplayName: msDS-ObjectSoa
schemaIDGUID:: 9b32NHkuO0yOFD2Tt1qriQ==
systemOnly: FALSE
""")
db.modify_ldif(update_now)
for cls in ("Group", "User"):
    db.modify_ldif(f"""dn: CN={cls},{schema}
changetype: modify
add: mayContain
mayContain: msDS-ExternalDirectoryObjectId
mayContain: msDS-ObjectSoa
""")
db.modify_ldif(update_now)
db.add_ldif(f"dn: {ou}\nobjectClass: organizationalUnit\n")
print(db.get_domain_sid())
