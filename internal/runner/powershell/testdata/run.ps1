# Stead: run. Collect, attach to, or launch one run (see internal/runner/powershell).
param([string]$ParamsB64)
$ErrorActionPreference = 'Stop'
$p = [Text.Encoding]::UTF8.GetString([Convert]::FromBase64String($ParamsB64)) | ConvertFrom-Json
$runs = Join-Path $env:ProgramData 'Stead\runs'
$d = Join-Path $runs $p.runId
$out = [Console]::OpenStandardOutput()
$err = [Console]::OpenStandardError()

function Send-Text([string]$s) {
	$b = [Text.Encoding]::UTF8.GetBytes($s)
	$out.Write($b, 0, $b.Length)
}

# Copy-Head copies the first $limit bytes of a file to a stream.
function Copy-Head([string]$path, [long]$limit, $to) {
	if (-not (Test-Path -LiteralPath $path -PathType Leaf)) { return }
	$f = [IO.File]::Open($path, 'Open', 'Read', 'ReadWrite')
	try {
		$buf = New-Object byte[] 65536
		$left = $limit
		while ($left -gt 0) {
			$n = $f.Read($buf, 0, [int][Math]::Min($buf.Length, $left))
			if ($n -le 0) { break }
			$to.Write($buf, 0, $n)
			$left -= $n
		}
	} finally { $f.Close() }
}

function Get-Size([string]$path) {
	if (Test-Path -LiteralPath $path -PathType Leaf) { return (Get-Item -LiteralPath $path).Length }
	return 0
}

function Fail([string]$msg) {
	Send-Text "STEAD1 error`n$msg`n"
	$out.Flush()
	exit 0
}

# Report prints the header, the run directory, then the kept output on stdout and stderr.
function Report([string]$state) {
	$code = -1
	if (Test-Path -LiteralPath "$d\exitcode") { $code = [int](Get-Content -LiteralPath "$d\exitcode" -Raw).Trim() }
	$timedout = [int](Test-Path -LiteralPath "$d\timedout")
	Send-Text ("STEAD1 {0} {1} {2} {3} {4}`n{5}`n" -f $state, $code, $timedout, (Get-Size "$d\stdout"), (Get-Size "$d\stderr"), $d)
	Copy-Head "$d\stdout" $p.outLimit $out
	Copy-Head "$d\stderr" $p.errLimit $err
	$out.Flush()
	$err.Flush()
	exit 0
}

# Test-Wrapper: whether process $id is still this run's wrapper; a pid reused after a reboot is not.
function Test-Wrapper([string]$id) {
	if ($id -notmatch '^\d+$') { return $false }
	$proc = Get-CimInstance Win32_Process -Filter "ProcessId = $id"
	return ($null -ne $proc) -and "$($proc.CommandLine)".Contains("$d\wrapper.ps1")
}

function Wait-Run([string]$id, [string]$state) {
	while (-not (Test-Path -LiteralPath "$d\exitcode")) {
		if (-not (Test-Wrapper $id)) {
			if (Test-Path -LiteralPath "$d\exitcode") { break }
			Report 'lost'
		}
		Start-Sleep -Milliseconds 500
	}
	Report $state
}

# Wait-Claimed: another attempt launched the run; wait for it to record the pid.
function Wait-Claimed {
	for ($n = 0; -not (Test-Path -LiteralPath "$d\pid"); $n++) {
		if (Test-Path -LiteralPath "$d\exitcode") { Report 'collected' }
		if ($n -ge 50) { Report 'lost' }
		Start-Sleep -Milliseconds 200
	}
	Wait-Run (Get-Content -LiteralPath "$d\pid" -Raw).Trim() 'attached'
}

if (Test-Path -LiteralPath "$d\exitcode") { Report 'collected' }
if (Test-Path -LiteralPath "$d\pid") { Wait-Run (Get-Content -LiteralPath "$d\pid" -Raw).Trim() 'attached' }
if (Test-Path -LiteralPath "$d\started") { Wait-Claimed }

# Launch. At most once a day, first prune runs untouched for a week that have ended.
try {
	$mark = Join-Path $runs '.pruned'
	if ((Test-Path -LiteralPath $runs) -and (-not (Test-Path -LiteralPath $mark) -or (Get-Item -LiteralPath $mark).LastWriteTime -lt (Get-Date).AddDays(-1))) {
		Set-Content -LiteralPath $mark -Value ''
		Get-ChildItem -LiteralPath $runs -Directory | Where-Object { $_.LastWriteTime -lt (Get-Date).AddDays(-7) } | ForEach-Object {
			if ((Test-Path -LiteralPath "$($_.FullName)\exitcode") -or -not (Test-Path -LiteralPath "$($_.FullName)\pid")) { Remove-Item -LiteralPath $_.FullName -Recurse -Force }
		}
	}
} catch { }
try { New-Item -ItemType Directory -Force -Path $d | Out-Null } catch { Fail "cannot create run directory $d" }
try {
	$bom = New-Object Text.UTF8Encoding $true
	$plain = New-Object Text.UTF8Encoding $false
	[IO.File]::WriteAllText("$d\script.ps1", [string]$p.script, $bom)
	[IO.File]::WriteAllText("$d\env.json", (ConvertTo-Json -InputObject @($p.env) -Compress), $plain)
	[IO.File]::WriteAllText("$d\spec.json", (ConvertTo-Json -InputObject @{ timeoutSeconds = $p.timeoutSeconds; graceSeconds = $p.graceSeconds; workingDirectory = $p.workingDirectory } -Compress), $plain)
	[IO.File]::WriteAllText("$d\wrapper.ps1", [string]$p.wrapper, $bom)
} catch { Fail "cannot write the step files in $d" }
try { New-Item -ItemType Directory -Path "$d\started" | Out-Null } catch { Wait-Claimed }
# Start the wrapper through CIM: a process started in the WinRS shell would live in the shell's job object and die with it.
$line = "powershell.exe -NoLogo -NoProfile -NonInteractive -ExecutionPolicy Unrestricted -File `"$d\wrapper.ps1`" `"$d`""
$r = Invoke-CimMethod -ClassName Win32_Process -MethodName Create -Arguments @{ CommandLine = $line; CurrentDirectory = $d }
if ($r.ReturnValue -ne 0) { Fail "Win32_Process.Create returned $($r.ReturnValue)" }
Set-Content -LiteralPath "$d\pid.tmp" -Value $r.ProcessId
Move-Item -LiteralPath "$d\pid.tmp" -Destination "$d\pid" -Force
Wait-Run "$($r.ProcessId)" 'launched'
