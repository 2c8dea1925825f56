# Stead: stop. TERM has no Windows equivalent for a console script: ask politely (taskkill), then force after the grace period.
@COMMON@
if (-not (Test-Path -LiteralPath "$d\started")) { exit 0 }
for ($n = 0; -not (Test-Path -LiteralPath "$d\group"); $n++) {
	if ((Test-Path -LiteralPath "$d\exitcode") -or $n -ge 50) { exit 0 }
	Start-Sleep -Milliseconds 100
}
$g = (Get-Content -LiteralPath "$d\group" -Raw).Trim()
if ($g -notmatch '^\d+$' -or (Test-Path -LiteralPath "$d\exitcode")) { exit 0 }
taskkill.exe /T /PID $g 2>&1 | Out-Null
for ($n = 0; $n -lt [int]$p.graceSeconds * 5 -and $null -ne (Get-Process -Id $g -ErrorAction SilentlyContinue); $n++) {
	Start-Sleep -Milliseconds 200
}
taskkill.exe /T /F /PID $g 2>&1 | Out-Null
exit 0
