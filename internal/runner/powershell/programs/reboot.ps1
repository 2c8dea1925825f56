# Stead: reboot. Record the boot id in the run directory, then reboot; a recorded boot id other than the current one means the reboot happened.
@COMMON@
try { New-Item -ItemType Directory -Force -Path $d | Out-Null } catch { exit 90 }
if ($p.bootIdCommand) { $cur = "$(& ([scriptblock]::Create($p.bootIdCommand)))" }
else { $cur = (Get-CimInstance Win32_OperatingSystem).LastBootUpTime.ToUniversalTime().ToString('yyyyMMddHHmmss') }
$cur = $cur -replace '\s', ''
if (-not $cur) { [Console]::Error.WriteLine('the boot id command printed nothing'); exit 91 }
if (Test-Path -LiteralPath "$d\rebooted-from") {
	$old = (Get-Content -LiteralPath "$d\rebooted-from" -Raw).Trim()
	if ($old -ne $cur) {
		Send-Text "STEAD1 rebooted $old`n"
		exit 0
	}
} else {
	Set-Content -LiteralPath "$d\rebooted-from" -Value $cur
}
Send-Text "STEAD1 rebooting $cur`n"
$out.Flush()
if ($p.command) { & ([scriptblock]::Create($p.command)) } else { Restart-Computer -Force }
