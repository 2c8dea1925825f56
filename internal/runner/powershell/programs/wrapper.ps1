# Stead step wrapper: runs script.ps1 as the SSM agent does, enforces the timeout on the node and records the exit code.
param([string]$d)
$ErrorActionPreference = 'Stop'
Set-Location -LiteralPath $d
$code = 1
try {
	$spec = Get-Content -LiteralPath "$d\spec.json" -Raw | ConvertFrom-Json
	foreach ($e in @(Get-Content -LiteralPath "$d\env.json" -Raw | ConvertFrom-Json)) {
		[Environment]::SetEnvironmentVariable($e.name, $e.value, 'Process')
	}
	Remove-Item -LiteralPath "$d\env.json" -Force
	$wd = $env:USERPROFILE
	if ($spec.workingDirectory) { $wd = $spec.workingDirectory }
	# The script shares this console: its output is written as UTF-8.
	[Console]::OutputEncoding = New-Object Text.UTF8Encoding $false
	$child = Start-Process -FilePath 'powershell.exe' -ArgumentList @('-NoLogo', '-NoProfile', '-NonInteractive', '-ExecutionPolicy', 'Unrestricted', '-File', "`"$d\script.ps1`"") -WorkingDirectory $wd -NoNewWindow -PassThru -RedirectStandardOutput "$d\stdout" -RedirectStandardError "$d\stderr"
	$null = $child.Handle
	Set-Content -LiteralPath "$d\group.tmp" -Value $child.Id
	Move-Item -LiteralPath "$d\group.tmp" -Destination "$d\group" -Force
	$limit = -1
	if ($spec.timeoutSeconds -gt 0) { $limit = [int]$spec.timeoutSeconds * 1000 }
	if (-not $child.WaitForExit($limit)) {
		New-Item -ItemType File -Path "$d\timedout" -Force | Out-Null
		taskkill.exe /T /PID $child.Id 2>&1 | Out-Null
		if (-not $child.WaitForExit([int]$spec.graceSeconds * 1000)) {
			taskkill.exe /T /F /PID $child.Id 2>&1 | Out-Null
			$child.WaitForExit()
		}
	}
	$code = $child.ExitCode
} catch {
	Add-Content -LiteralPath "$d\stderr" -Value "Stead could not start the script: $_"
}
Set-Content -LiteralPath "$d\exitcode.tmp" -Value $code
Move-Item -LiteralPath "$d\exitcode.tmp" -Destination "$d\exitcode" -Force
