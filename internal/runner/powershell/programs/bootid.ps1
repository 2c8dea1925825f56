# Stead: boot id. The node's last boot time, or what the node's own boot id command prints.
@COMMON@
if ($p.command) {
	& ([scriptblock]::Create($p.command))
} else {
	(Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('yyyyMMddHHmmss')
}
